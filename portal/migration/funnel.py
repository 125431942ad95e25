"""A campaign's funnel: where each imported customer stands, counted and listed (issue 17).

One home for the stages, used by the staff campaign page, its CSV export and
``manage.py campaign_status``. The funnel's steps, each counted over the whole campaign:
imported → auto-converted (authtoken converted or refresh token imported) /
invited → link opened → connected → healthy (a grant that is active without a warning).
Each customer also stands at exactly one :data:`STAGES` entry, for the filterable list.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from portal.models import MigrationCampaign, MigrationCustomer, ZohoGrant

Step = MigrationCustomer.Step
MAX_DAYS = 180  # the progress line's longest span
OPENED = Q(link_opened_at__isnull=False) | Q(connected_at__isnull=False)
HEALTHY = Q(grant__status=ZohoGrant.Status.ACTIVE, grant__warning="")
# The funnel's steps: (key, label, who counts).
STEPS: list[tuple[str, str, Q]] = [
    ("imported", "Imported", Q(pk__isnull=False)),
    ("converted", "Auto-converted", Q(step=Step.CONVERTED)),
    ("invited", "Invited", Q(invited_at__isnull=False)),
    ("opened", "Link opened", Q(invited_at__isnull=False) & OPENED),
    ("connected", "Connected", Q(connected_at__isnull=False)),
    ("healthy", "Healthy", (Q(step=Step.CONVERTED) | Q(connected_at__isnull=False)) & HEALTHY),
]
_DONE = Q(step=Step.CONVERTED) | Q(connected_at__isnull=False)
_INVITABLE = Q(step__in=[Step.TO_INVITE, Step.VERIFY_FAILED, Step.CONVERSION_FAILED])
# Where each customer stands now (exclusive, first match wins), for the list's filter.
STAGES: list[tuple[str, str, Q]] = [
    ("connected", "Connected", Q(connected_at__isnull=False)),
    ("converted", "Converted", Q(step=Step.CONVERTED)),
    ("opted_out", "Opted out", Q(opted_out_at__isnull=False)),
    ("bounced", "Bounced", Q(bounced_at__isnull=False)),
    ("opened", "Link opened", Q(invited_at__isnull=False) & OPENED),
    ("invited", "Invited", Q(invited_at__isnull=False)),
    ("converting", "Converting", Q(step__in=[Step.IMPORTED, Step.CONVERTING])),
    ("failed", "Failed, to invite", _INVITABLE),
]
STAGE_LABELS = {key: label for key, label, _ in STAGES}


@dataclass(frozen=True)
class FunnelStep:
    key: str
    label: str
    count: int
    percent: float  # of the imported

    @property
    def percent_text(self) -> str:
        return f"{self.percent:.0f} %"


@dataclass(frozen=True)
class Progress:
    days: list[date]  # from the campaign's start to its deadline (or today)
    converted: list[int]  # per day, up to today only
    connected: list[int]


def funnel(campaign: MigrationCampaign) -> list[FunnelStep]:
    """The funnel's steps with counts and percentages of the imported (one query)."""
    counts = MigrationCustomer.objects.filter(campaign=campaign).aggregate(
        **{key: Count("pk", filter=rule) for key, _, rule in STEPS}
    )
    total = counts["imported"] or 0
    return [
        FunnelStep(key, label, counts[key], 100 * counts[key] / total if total else 0.0)
        for key, label, _ in STEPS
    ]


def stage_filter(stage: str) -> Q:
    """Customers standing at ``stage`` now (an unknown stage matches nobody)."""
    rule = Q(pk__in=[])
    earlier = Q()
    for key, _, condition in STAGES:
        if key == stage:
            rule = condition & ~earlier if earlier else condition
            break
        earlier |= condition
    return rule


def stage_of(customer: MigrationCustomer) -> str:
    """The stage key of one loaded customer (the same order as :data:`STAGES`)."""
    if customer.connected_at:
        return "connected"
    if customer.step == Step.CONVERTED:
        return "converted"
    if customer.opted_out_at:
        return "opted_out"
    if customer.bounced_at:
        return "bounced"
    if customer.invited_at:
        return "opened" if customer.link_opened_at else "invited"
    if customer.step in (Step.IMPORTED, Step.CONVERTING):
        return "converting"
    return "failed"


def customers(
    campaign: MigrationCampaign, *, stage: str = "", dc: str = "", search: str = ""
) -> QuerySet[MigrationCustomer]:
    """The campaign's customers, filtered, in file order."""
    rows = MigrationCustomer.objects.filter(campaign=campaign).select_related("user", "grant")
    if stage:
        rows = rows.filter(stage_filter(stage))
    if dc:
        rows = rows.filter(data_centre=dc)
    if search:
        rows = rows.filter(
            Q(user__email__icontains=search) | Q(user__external_id__icontains=search)
        )
    return rows.order_by("line", "pk")


def progress(campaign: MigrationCampaign, *, today: date | None = None) -> Progress:
    """Customers converted and connected per day, on an axis that runs to the deadline."""
    today = today or timezone.localdate()
    start = timezone.localdate(campaign.created_at)
    end = max(campaign.deadline or today, today)
    end = min(end, start + timedelta(days=MAX_DAYS))
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    rows = MigrationCustomer.objects.filter(campaign=campaign)
    converted = _per_day(rows.filter(step=Step.CONVERTED), "finished_at")
    connected = _per_day(rows.filter(connected_at__isnull=False), "connected_at")
    shown = [day for day in days if day <= today]
    return Progress(
        days=days,
        converted=[converted.get(day, 0) for day in shown],
        connected=[connected.get(day, 0) for day in shown],
    )


def _per_day(rows: QuerySet[MigrationCustomer], field: str) -> dict[date, int]:
    counted = rows.annotate(day=TruncDate(field)).values_list("day").annotate(n=Count("*"))
    return dict(counted.order_by())
