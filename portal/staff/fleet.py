"""Selectors for the staff overview: the whole fleet of grants at a glance.

Each figure is one grouped query whose cost does not grow with what it returns: grants by
data centre (an index-only scan of ``grant_dc_zuid``) and, per series, audit events per day
over 30 days (a range scan of the audit log's ``(action, created_at)`` index). Grants by
status come from the upkeep report, which counts them already.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import AuditEvent
from portal.grants.wording import status_label
from portal.models import ZohoGrant
from portal.zoho.datacentres import ZOHO_DEFAULTS

DAYS = 30
Action = AuditEvent.Action
# (key, label, the audit actions counted)
SERIES: list[tuple[str, str, tuple[str, ...]]] = [
    ("connections", "Connections", (Action.CONNECTED, Action.RECONNECTED)),
    ("revocations", "Revocations", (Action.REVOKED,)),
    ("refresh_failures", "Refresh failures", (Action.REFRESH_FAILED,)),
]


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    count: int


@dataclass(frozen=True)
class DailySeries:
    key: str
    label: str
    counts: list[int]  # one per day of ``FleetOverview.days``


@dataclass(frozen=True)
class FleetOverview:
    total: int
    by_status: list[Figure]
    by_data_centre: list[Figure]
    days: list[date]
    series: list[DailySeries]


def fleet_overview(*, now: datetime, status_counts: dict[str, int]) -> FleetOverview:
    """The overview's figures; ``status_counts`` is grants per status key (upkeep report)."""
    by_status = [
        Figure(key, status_label(key), status_counts.get(key, 0)) for key in ZohoGrant.Status.values
    ]
    by_status += [
        Figure(key, key, count)
        for key, count in status_counts.items()
        if key not in ZohoGrant.Status.values
    ]
    today = timezone.localdate(now)
    days = [today - timedelta(days=back) for back in range(DAYS - 1, -1, -1)]
    return FleetOverview(
        total=sum(status_counts.values()),
        by_status=by_status,
        by_data_centre=grants_by_data_centre(),
        days=days,
        series=[
            DailySeries(key, label, daily_counts(actions=actions, days=days))
            for key, label, actions in SERIES
        ],
    )


def grants_by_data_centre() -> list[Figure]:
    """Grants per data centre, most first (every known DC listed, even with none)."""
    counts = dict(ZohoGrant.objects.values_list("data_centre").annotate(n=Count("*")).order_by())
    codes = list(ZOHO_DEFAULTS) + sorted(code for code in counts if code not in ZOHO_DEFAULTS)
    figures = [Figure(code, _dc_label(code), counts.get(code, 0)) for code in codes]
    return sorted(figures, key=lambda figure: -figure.count)


def daily_counts(*, actions: tuple[str, ...], days: list[date]) -> list[int]:
    """Audit events with one of ``actions`` per day (UTC) of ``days``, in that order."""
    since = timezone.make_aware(datetime.combine(days[0], time.min))  # a range the index serves
    rows = (
        AuditEvent.objects.filter(action__in=actions, created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values_list("day")
        .annotate(n=Count("*"))
        .order_by()
    )
    counts = dict(rows)
    return [counts.get(day, 0) for day in days]


def _dc_label(code: str) -> str:
    known = ZOHO_DEFAULTS.get(code)
    return f"{known[0]} ({code.upper()})" if known else code.upper()
