"""Staff revoking a batch of grants in the background, with progress on a page.

The request only records the batch (:class:`portal.models.StaffRevocation`, one item per
grant) and defers one ``portal.revoke_for_staff`` job per grant in the same transaction
(Procrastinate's Django connector defers through Django's connection): the batch and its jobs
commit together or not at all, and the request calls neither Zoho nor a mail server.

Each job is safe to run again (a worker killed mid-batch is retried by
``portal.retry_stalled_jobs``): ``revoke_grant`` finishes what an earlier run started, an
item's outcome is written once under its row lock, and the batch's end is decided once
under the batch's row lock, where its owners are told (``tell_owners_revoked_by_staff``
defers their mail, so no lock waits on a mail server).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from procrastinate.contrib.django import app
from procrastinate.types import JSONDict

from accounts import request_id
from accounts.audit import AuditContext
from accounts.models import User
from portal.grants import owner_alerts
from portal.models import StaffRevocation, StaffRevocationItem
from portal.staff.actions import (
    IN_PROGRESS,
    OUTCOME_LABELS,
    WAITING,
    StaffRevokeOutcome,
    TargetGrant,
    grants_to_revoke,
    revoke_as_staff,
)

REVOKE_TASK = "portal.revoke_for_staff"  # portal/tasks.py; named here: tasks imports this module
TOLD = (StaffRevokeOutcome.REVOKED, StaffRevokeOutcome.PENDING)


def start_staff_revocation(
    *, grant_ids: Sequence[UUID], reason: str, context: AuditContext
) -> UUID:
    """Record a batch revocation of ``grant_ids`` and defer its jobs; returns the batch id.

    :class:`portal.staff.actions.UnknownGrants` (nothing recorded) if any id is not a grant.
    Grants already Revoked are recorded as such at once and get no job.
    """
    targets = grants_to_revoke(grant_ids)
    now = timezone.now()
    with transaction.atomic():
        batch = StaffRevocation.objects.create(
            actor=context.actor if isinstance(context.actor, User) else None,
            reason=reason,
            ip_address=context.ip_address,
            user_agent=context.user_agent,
        )
        StaffRevocationItem.objects.bulk_create(
            _item(batch, position, target, now) for position, target in enumerate(targets)
        )
        jobs: list[JSONDict] = [
            request_id.tagged(revocation_id=str(batch.pk), grant_id=str(target.id))
            for target in targets
            if not target.is_revoked
        ]
        if jobs:
            app.configure_task(name=REVOKE_TASK, allow_unknown=False).batch_defer(*jobs)
        else:
            batch.finished_at = now
            batch.save(update_fields=["finished_at"])
    return batch.pk


def _item(
    batch: StaffRevocation, position: int, target: TargetGrant, now: datetime
) -> StaffRevocationItem:
    done = target.is_revoked
    return StaffRevocationItem(
        revocation=batch,
        grant_id=target.id,
        position=position,
        outcome=StaffRevokeOutcome.ALREADY_REVOKED if done else "",
        finished_at=now if done else None,
    )


def revoke_batch_item(*, revocation_id: UUID, grant_id: UUID) -> None:
    """The job: revoke one grant of a batch, record its outcome once, end the batch if last."""
    item = (
        StaffRevocationItem.objects.select_related("revocation__actor")
        .filter(revocation_id=revocation_id, grant_id=grant_id)
        .first()
    )
    if item is not None and not item.outcome:
        _record(item_id=item.pk, outcome=_revoke(item))
    _finish_if_done(revocation_id=revocation_id)


def _revoke(item: StaffRevocationItem) -> StaffRevokeOutcome:
    first_run = (
        StaffRevocationItem.objects.filter(pk=item.pk, started_at__isnull=True).update(
            started_at=timezone.now()
        )
        == 1
    )
    [target] = grants_to_revoke([item.grant_id])
    if first_run and target.is_revoked:
        # Revoked by someone else since the batch was confirmed. On a later run it may be
        # this batch's own earlier run that revoked it, so that run's outcome stands.
        return StaffRevokeOutcome.ALREADY_REVOKED
    batch = item.revocation
    context = AuditContext(
        actor=batch.actor, ip_address=batch.ip_address, user_agent=batch.user_agent
    )
    return revoke_as_staff(target=target, reason=batch.reason, context=context)


def _record(*, item_id: int, outcome: StaffRevokeOutcome) -> None:
    with transaction.atomic():
        item = StaffRevocationItem.objects.select_for_update().get(pk=item_id)
        if item.outcome:  # another run of the same job got here first
            return
        item.outcome = outcome
        item.finished_at = timezone.now()
        item.save(update_fields=["outcome", "finished_at"])


def _finish_if_done(*, revocation_id: UUID) -> None:
    """End the batch when no item waits: once, under its row lock, telling its owners."""
    with transaction.atomic():
        batch = StaffRevocation.objects.select_for_update().filter(pk=revocation_id).first()
        if batch is None or batch.finished_at is not None:
            return
        items = StaffRevocationItem.objects.filter(revocation=batch)
        if items.filter(finished_at__isnull=True).exists():
            return
        batch.finished_at = timezone.now()
        batch.save(update_fields=["finished_at"])
        told = list(
            items.filter(outcome__in=TOLD).order_by("position").values_list("grant_id", flat=True)
        )
        if told:
            owner_alerts.tell_owners_revoked_by_staff(grant_ids=told, reason=batch.reason)


def _label(outcome: str, started_at: datetime | None) -> str:
    if outcome:
        return OUTCOME_LABELS[StaffRevokeOutcome(outcome)]
    return IN_PROGRESS if started_at is not None else WAITING


@dataclass(frozen=True)
class ItemProgress:
    grant: TargetGrant
    outcome: str  # a StaffRevokeOutcome value, or "" while waiting
    label: str


@dataclass(frozen=True)
class RevocationProgress:
    id: UUID
    actor: str
    reason: str
    created_at: datetime
    finished_at: datetime | None
    items: list[ItemProgress]
    done: int
    counts: list[tuple[str, int]]  # (outcome label, how many), for the summary
    told: bool  # some owners are emailed (a grant revoked or Revoking)
    any_failed: bool

    @property
    def total(self) -> int:
        return len(self.items)


def revocation_progress(revocation_id: UUID) -> RevocationProgress | None:
    """A batch, each grant with its outcome so far, and a count per outcome; None if unknown."""
    batch = StaffRevocation.objects.select_related("actor").filter(pk=revocation_id).first()
    if batch is None:
        return None
    rows = list(batch.items.order_by("position").values_list("grant_id", "outcome", "started_at"))
    targets = {target.id: target for target in grants_to_revoke([row[0] for row in rows])}
    items = [
        ItemProgress(targets[grant_id], outcome, _label(outcome, started_at))
        for grant_id, outcome, started_at in rows
    ]
    counts = [
        (OUTCOME_LABELS[outcome], sum(item.outcome == outcome for item in items))
        for outcome in StaffRevokeOutcome
    ]
    return RevocationProgress(
        id=batch.pk,
        actor=str(batch.actor) if batch.actor is not None else "",
        reason=batch.reason,
        created_at=batch.created_at,
        finished_at=batch.finished_at,
        items=items,
        done=sum(1 for item in items if item.outcome),
        counts=[(label, count) for label, count in counts if count],
        told=any(item.outcome in TOLD for item in items),
        any_failed=any(item.outcome == StaffRevokeOutcome.FAILED for item in items),
    )


@dataclass(frozen=True)
class RevocationSummary:
    id: UUID
    actor: str
    created_at: datetime
    done: int
    total: int
    is_finished: bool


def recent_revocations(*, limit: int = 5) -> list[RevocationSummary]:
    """The newest batch revocations with how far each got, in one query."""
    batches = (
        StaffRevocation.objects.select_related("actor")
        .annotate(total=Count("items"), done=Count("items", filter=Q(items__outcome__gt="")))
        .order_by("-created_at")[:limit]
    )
    return [
        RevocationSummary(
            id=batch.pk,
            actor=str(batch.actor) if batch.actor is not None else "",
            created_at=batch.created_at,
            done=batch.done,
            total=batch.total,
            is_finished=batch.finished_at is not None,
        )
        for batch in batches
    ]
