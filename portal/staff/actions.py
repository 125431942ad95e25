"""Staff revoking any grants, with a reason.

Each grant goes through :func:`portal.grants.revocation.revoke_grant`, exactly as its owner's own
revocation does (Revoking, then Revoked once Zoho confirms), with the staff member as actor.
Every audit event of that revocation carries the reason and the owner, and the REVOKING mark
commits with its audit row or not at all. Owners are told by email, once each.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from django.db import DatabaseError
from django.utils import timezone

from accounts.audit import AuditContext
from portal.grants import owner_alerts
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


@dataclass(frozen=True)
class StaffRevokeResult:
    grant: TargetGrant
    outcome: StaffRevokeOutcome
    label: str


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


def revoke_grants_as_staff(
    *, grant_ids: Sequence[UUID], reason: str, context: AuditContext
) -> list[StaffRevokeResult]:
    """Revoke each grant for ``context.actor`` with ``reason``; email the owners; report each."""
    targets = grants_to_revoke(grant_ids)
    results, told = [], []
    for target in targets:
        outcome = _revoke_one(target, reason, context)
        results.append(StaffRevokeResult(target, outcome, OUTCOME_LABELS[outcome]))
        if outcome in (StaffRevokeOutcome.REVOKED, StaffRevokeOutcome.PENDING):
            told.append(target.id)
    if told:
        owner_alerts.tell_owners_revoked_by_staff(grant_ids=told, reason=reason)
    return results


def _revoke_one(target: TargetGrant, reason: str, context: AuditContext) -> StaffRevokeOutcome:
    if target.is_revoked:
        return StaffRevokeOutcome.ALREADY_REVOKED
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
