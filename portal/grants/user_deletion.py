"""Deleting a portal user without leaving one of their tokens live at Zoho.

The rule: a user row is deleted only once none of their grants still holds a refresh token.
:func:`delete_user` deactivates the user and ends their sessions at once (so nothing more is
handed out or connected), then revokes every grant that is not Revoked yet through
``revocation.revoke_grant`` (Revoking, Zoho, Revoked with secrets wiped; Needs reconnect
too, since its token may still be live at Zoho). When Zoho confirms every revocation the
user is deleted there and then, with their (wiped) Revoked grants. When Zoho cannot be
reached, the user stays, deactivated and marked (``deletion_requested_at``), and the worker
(:func:`finish_pending_deletions`, after ``finish_pending_revocations``) deletes them once
every revocation is finished (confirmed, or given up and wiped by the worker's own rule).

``ZohoGrant.user`` is ``PROTECT``: a plain ``user.delete()`` (ORM, shell, admin without this
service) with any grant left raises instead of silently dropping live tokens.
"""

from enum import StrEnum

from django.db import transaction
from django.utils import timezone

from accounts.audit import AuditContext, record_event
from accounts.models import AuditEvent, User
from accounts.sessions import end_sessions_of
from portal.grants.revocation import revoke_grant
from portal.models import ZohoGrant

Status = ZohoGrant.Status
Action = AuditEvent.Action
REASON = "user deleted"


class DeletionOutcome(StrEnum):
    DELETED = "deleted"
    PENDING = "pending"  # deactivated; deleted by the worker once Zoho confirms every revocation


class DeletionRefused(Exception):
    """The deletion would lock the acting staff member out (``str()`` says why)."""


def delete_user(*, user_id: int, context: AuditContext) -> DeletionOutcome:
    """Revoke the user's grants at Zoho, then delete the user (see the module's rule).

    ``context.actor`` is the staff member acting. Safe to repeat on a pending deletion.
    """
    if user_id == getattr(context.actor, "pk", None):
        raise DeletionRefused("You cannot delete your own account.")
    _request_deletion(user_id=user_id, context=context)
    _revoke_grants_of(user_id=user_id, context=context)
    if _delete_if_clear(user_id=user_id, context=context):
        return DeletionOutcome.DELETED
    return DeletionOutcome.PENDING


def finish_pending_deletions() -> int:
    """Delete the users whose deletion waited for Zoho, once their grants are all revoked.

    Grants still live (a deletion interrupted before it revoked them) are revoked now; those
    Revoking are left to ``finish_pending_revocations`` and its back-off. Returns how many
    users were deleted.
    """
    deleted = 0
    pending = User.objects.filter(deletion_requested_at__isnull=False).order_by("pk")
    for user_id in list(pending.values_list("pk", flat=True)):
        _revoke_grants_of(user_id=user_id, context=None, statuses=_NOT_STARTED)
        deleted += _delete_if_clear(user_id=user_id, context=None)
    return deleted


_NOT_STARTED = (Status.ACTIVE, Status.TROUBLE, Status.NEEDS_RECONNECT)


def _request_deletion(*, user_id: int, context: AuditContext) -> None:
    """Deactivate, end every session and mark the user, audited (once)."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        if user.deletion_requested_at is not None:
            return
        user.is_active = False
        user.deletion_requested_at = timezone.now()
        user.save(update_fields=["is_active", "deletion_requested_at"])
        ended = end_sessions_of(user.pk)
        live = ZohoGrant.objects.filter(user_id=user.pk).exclude(status=Status.REVOKED).count()
        record_event(
            action=Action.USER_DELETION_REQUESTED,
            context=context,
            detail={"user_id": user.pk, "user": user.email, "grants": live, "sessions": ended},
        )


def _revoke_grants_of(
    *,
    user_id: int,
    context: AuditContext | None,
    statuses: tuple[Status, ...] = (*_NOT_STARTED, Status.REVOKING),
) -> None:
    """One grant at a time, each under its own lock (never several around a Zoho call)."""
    grants = ZohoGrant.objects.filter(user_id=user_id, status__in=statuses).order_by("pk")
    for grant_id in list(grants.values_list("pk", flat=True)):
        revoke_grant(grant_id=grant_id, context=context, reason=REASON)


def _delete_if_clear(*, user_id: int, context: AuditContext | None) -> bool:
    """Delete the user and their wiped grants if no grant holds a token any more.

    The user's row lock also stops a grant being added meanwhile (its foreign key waits).
    """
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=user_id).first()
        if user is None:
            return False
        grants = list(ZohoGrant.objects.select_for_update().filter(user_id=user_id))
        if any(g.status != Status.REVOKED or g.refresh_token_encrypted is not None for g in grants):
            return False
        requested = user.deletion_requested_at
        revoked = sum(1 for g in grants if requested and g.revoked_at and g.revoked_at >= requested)
        detail = {"user_id": user.pk, "user": user.email, "grants_revoked": revoked}
        if requested is not None:
            detail["requested_at"] = requested.isoformat()
        ZohoGrant.objects.filter(pk__in=[g.pk for g in grants]).delete()
        user.delete()
        record_event(action=Action.USER_DELETED, context=context, detail=detail)
    return True
