"""Staff revoking any grants, with a reason: the targets, one revocation, the outcome words.

``portal.staff.bulk_revocation`` runs a batch of them as jobs. Each grant goes through
:func:`portal.grants.revocation.revoke_grant`, exactly as its owner's own revocation does
(Revoking, then Revoked once Zoho confirms), with the staff member as actor. Every audit
event of that revocation carries the reason and the owner, and the REVOKING mark commits
with its audit row or not at all.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from django.db import DatabaseError
from django.utils import timezone

from accounts.audit import AuditContext
from portal.grants.revocation import RevokeOutcome, revoke_grant
from portal.grants.status import grant_row
from portal.models import ZohoGrant

logger = logging.getLogger("portal.staff")

MAX_BATCH = 100
# What an owner is shown as the revoker: staff act for the service, not in their own name.
ADMINISTRATOR = "an administrator"


class StaffRevokeOutcome(StrEnum):
    REVOKED = "revoked"
    PENDING = "pending"  # Revoking: Zoho did not confirm yet, the worker retries
    ALREADY_REVOKED = "already_revoked"
    FAILED = "failed"  # nothing changed (e.g. the audit row could not be written)


OUTCOME_LABELS = {
    StaffRevokeOutcome.REVOKED: "Revoked",
    StaffRevokeOutcome.PENDING: "Revoking: Zoho has not confirmed yet; retried in the background",
    StaffRevokeOutcome.ALREADY_REVOKED: "Already revoked; nothing done",
    StaffRevokeOutcome.FAILED: "Not revoked: the change could not be recorded; nothing changed",
}
# A grant of a batch whose job has not recorded an outcome yet (portal.staff.bulk_revocation).
WAITING = "Waiting for the worker"
IN_PROGRESS = "In progress"


class UnknownGrants(LookupError):
    """Some of the ids asked for are not grants; ``missing`` lists them."""

    def __init__(self, missing: list[UUID]) -> None:
        self.missing = missing
        super().__init__(f"{len(missing)} unknown grant id(s)")


@dataclass(frozen=True)
class TargetGrant:
    id: UUID
    title: str
    zoho_email: str
    data_centre: str
    owner_email: str
    owner_id: int
    status_label: str
    is_revoked: bool


def grants_to_revoke(grant_ids: Sequence[UUID]) -> list[TargetGrant]:
    """The grants named, in the order given; :class:`UnknownGrants` if any id is not one."""
    wanted = list(dict.fromkeys(grant_ids))
    grants = {
        grant.pk: grant
        for grant in ZohoGrant.objects.filter(pk__in=wanted)
        .select_related("user")
        .defer("refresh_token_encrypted", "access_token_encrypted")
    }
    missing = [grant_id for grant_id in wanted if grant_id not in grants]
    if missing:
        raise UnknownGrants(missing)
    now = timezone.now()
    targets = []
    for grant_id in wanted:
        grant = grants[grant_id]
        row = grant_row(grant, now=now)
        targets.append(
            TargetGrant(
                id=grant.pk,
                title=row.title,
                zoho_email=grant.zoho_email or grant.zoho_user_id,
                data_centre=row.data_centre,
                owner_email=grant.user.email,
                owner_id=grant.user_id,
                status_label=row.status_label,
                is_revoked=grant.status == ZohoGrant.Status.REVOKED,
            )
        )
    return targets


def revoke_as_staff(
    *, target: TargetGrant, reason: str, context: AuditContext
) -> StaffRevokeOutcome:
    """Revoke one grant for ``context.actor`` with ``reason`` (Revoked, or Revoking: pending).

    Safe to repeat: a grant left Revoking is finished, one already Revoked reads as Revoked.
    """
    detail = {
        "reason": reason,
        "by_staff": True,
        "owner_id": target.owner_id,
        "owner": target.owner_email,
    }
    try:
        outcome = revoke_grant(
            grant_id=target.id,
            context=context,
            reason=reason,
            revoked_by=ADMINISTRATOR,
            detail=detail,
        )
    except DatabaseError:
        # Each step's change and its audit row were rolled back together. If the
        # first step (REVOKING, its audit row) had committed, hand-out is stopped and the
        # worker finishes the revocation; otherwise nothing changed.
        logger.exception("staff revocation of grant %s failed", target.id)
        revoking = ZohoGrant.objects.filter(pk=target.id, status=ZohoGrant.Status.REVOKING)
        return StaffRevokeOutcome.PENDING if revoking.exists() else StaffRevokeOutcome.FAILED
    return (
        StaffRevokeOutcome.REVOKED
        if outcome == RevokeOutcome.REVOKED
        else StaffRevokeOutcome.PENDING
    )
