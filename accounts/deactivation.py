"""Deactivating and reactivating portal users (a staff action).

Deactivation ends every session of the user at once and, because the token service and the
token API check the owner's ``is_active`` on every hand-out, their grants stop handing out
tokens; the grants themselves are left as they are, so reactivation restores service.
"""

from django.db import transaction

from accounts.audit import AuditContext, record_event
from accounts.models import AuditEvent, User
from accounts.sessions import end_sessions_of


class DeactivationRefused(Exception):
    """The action is refused: it would lock the acting staff member out, or the user is being
    deleted (``str()`` says why)."""


def deactivate_user(*, user_id: int, reason: str, context: AuditContext) -> bool:
    """Deactivate a user and end their sessions, audited; False when already inactive.

    ``context.actor`` is the staff member acting.
    """
    if user_id == getattr(context.actor, "pk", None):
        raise DeactivationRefused("You cannot deactivate your own account.")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        if not user.is_active:
            return False
        user.is_active = False
        user.save(update_fields=["is_active"])
        ended = end_sessions_of(user.pk)
        record_event(
            action=AuditEvent.Action.USER_DEACTIVATED,
            context=context,
            detail={"user_id": user.pk, "user": user.email, "reason": reason, "sessions": ended},
        )
    return True


def reactivate_user(*, user_id: int, reason: str, context: AuditContext) -> bool:
    """Let a deactivated user sign in again (their grants hand out tokens again).

    Refused (:class:`DeactivationRefused`) while the user's deletion is pending
    (``deletion_requested_at``, see ``portal.grants.user_deletion``), rather than cancelling
    it: the deletion was confirmed on a page saying their grants are revoked at Zoho, those
    revocations are already under way and cannot be undone, so reactivating could not restore
    service as it promises, and quietly turning a confirmed deletion (often the person's own
    request to be erased) into a half-deleted live account is the surprise staff least expect.
    The worker deletes the account once Zoho confirms; the person can then sign up again.
    """
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        if user.deletion_requested_at is not None:
            raise DeactivationRefused(
                f"{user.email} is being deleted: their grants are being revoked at Zoho and the "
                "account is deleted once Zoho confirms, so it cannot be reactivated."
            )
        if user.is_active:
            return False
        user.is_active = True
        user.save(update_fields=["is_active"])
        record_event(
            action=AuditEvent.Action.USER_REACTIVATED,
            context=context,
            detail={"user_id": user.pk, "user": user.email, "reason": reason},
        )
    return True
