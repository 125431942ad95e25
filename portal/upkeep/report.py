"""What staff see of the background upkeep: last run of each periodic task, queue, outcomes.

The same report feeds ``/metrics`` (``portal.observe.metrics``), so the staff page and the
operator's dashboards never disagree about a figure.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, OuterRef, Subquery
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
REFRESH_WINDOW = timedelta(hours=1)


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
    # Refreshes recorded in the last hour: (data centre, outcome, count), by data centre.
    refreshes_last_hour: list[tuple[str, str, int]] = field(default_factory=list)
    # Jobs that failed for good and are kept by Procrastinate: (task name, count), by name.
    failed_jobs: list[tuple[str, int]] = field(default_factory=list)


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
        refreshes_last_hour=_refreshes(since=now - REFRESH_WINDOW),
        failed_jobs=sorted(
            ProcrastinateJob.objects.filter(status="failed")
            .values_list("task_name")
            .annotate(count=Count("id"))
            .order_by()
        ),
    )


def _refreshes(*, since: datetime) -> list[tuple[str, str, int]]:
    """Refresh outcomes by data centre (a failure is recorded once per new kind of error on a
    grant, so a grant failing the same way again and again counts once)."""
    actions = [AuditEvent.Action.REFRESHED, AuditEvent.Action.REFRESH_FAILED]
    data_centre = ZohoGrant.objects.filter(pk=OuterRef("grant_id")).values("data_centre")[:1]
    rows = (
        AuditEvent.objects.filter(action__in=actions, created_at__gte=since)
        .annotate(data_centre=Subquery(data_centre))
        .values_list("data_centre", "outcome")
        .annotate(count=Count("id"))
        .order_by()
    )
    return sorted((dc or "unknown", str(outcome), n) for dc, outcome, n in rows)


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
