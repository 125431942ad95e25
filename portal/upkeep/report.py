"""What staff see of the background upkeep: last run of each periodic task, queue, outcomes."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count
from procrastinate.contrib.django.models import (
    ProcrastinateEvent,
    ProcrastinateJob,
    ProcrastinateWorker,
)

from accounts.models import AuditEvent
from portal.grants.client_health import Rejection, rejected_data_centres
from portal.models import ZohoGrant
from portal.upkeep.schedules import SCHEDULES

FINISHED = ("succeeded", "failed", "aborted")
LIVE_WORKER = timedelta(minutes=1)


@dataclass(frozen=True)
class TaskRun:
    task: str
    last_finished_at: datetime | None
    last_status: str
    waiting: int


@dataclass(frozen=True)
class UpkeepReport:
    tasks: list[TaskRun]
    queue_length: int
    running: int
    live_workers: int
    checked_last_day: int
    failures_last_day: list[tuple[str, int]]
    grants_by_status: list[tuple[str, int]]  # (label, count), by label
    status_counts: dict[str, int]  # by status key (the staff overview's chart)
    # Data centres whose Zoho rejects the portal's own client (refreshes there are paused).
    client_rejections: list[Rejection] = field(default_factory=list)


def upkeep_report(*, now: datetime) -> UpkeepReport:
    """Figures for the staff upkeep page, read from Procrastinate's tables and the audit log."""
    day_ago = now - timedelta(days=1)
    failures = (
        AuditEvent.objects.filter(action=AuditEvent.Action.CHECK_FAILED, created_at__gte=day_ago)
        .values_list("detail__status")
        .annotate(count=Count("id"))
        .order_by("-count")
    )
    statuses = list(ZohoGrant.objects.values_list("status").annotate(count=Count("*")).order_by())
    labels = dict(ZohoGrant.Status.choices)
    return UpkeepReport(
        tasks=[_task_run(name) for name in SCHEDULES],
        queue_length=ProcrastinateJob.objects.filter(status="todo").count(),
        running=ProcrastinateJob.objects.filter(status="doing").count(),
        live_workers=ProcrastinateWorker.objects.filter(
            last_heartbeat__gte=now - LIVE_WORKER
        ).count(),
        checked_last_day=AuditEvent.objects.filter(
            action=AuditEvent.Action.CHECKED, created_at__gte=day_ago
        ).count(),
        failures_last_day=[(labels.get(str(kind), str(kind)), n) for kind, n in failures],
        grants_by_status=sorted((labels.get(status, status), n) for status, n in statuses),
        status_counts=dict(statuses),
        client_rejections=rejected_data_centres(),
    )


def _task_run(name: str) -> TaskRun:
    last = (
        ProcrastinateEvent.objects.filter(job__task_name=name, type__in=FINISHED)
        .select_related("job")
        .order_by("-at")
        .first()
    )
    waiting = ProcrastinateJob.objects.filter(task_name=name, status="todo").count()
    if last is None:
        return TaskRun(name, None, "never run", waiting)
    return TaskRun(name, last.at, last.type, waiting)
