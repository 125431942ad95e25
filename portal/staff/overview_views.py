"""Staff page: the fleet at a glance (server-rendered SVG charts) and the workers' health."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from portal.staff.access import VIEW_ALL_GRANTS, staff_permission_required
from portal.staff.charts import bar_chart, line_chart
from portal.staff.fleet import fleet_overview
from portal.upkeep.report import upkeep_report


@staff_permission_required(VIEW_ALL_GRANTS)
@require_safe
def overview(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    report = upkeep_report(now=now)
    fleet = fleet_overview(now=now, status_counts=report.status_counts)
    status_rows = [(f.label, f.count, f"chart-status-{f.key}") for f in fleet.by_status]
    dc_rows = [(f.label, f.count, "chart-dc") for f in fleet.by_data_centre]
    series = [(s.key, s.label, s.counts) for s in fleet.series]
    context = {
        "report": report,
        "fleet": fleet,
        "total_text": f"{fleet.total:,}",
        "status_chart": bar_chart(title="Grants by status", rows=status_rows),
        "dc_chart": bar_chart(title="Grants by data centre", rows=dc_rows),
        "daily_chart": line_chart(
            title="Connections, revocations and refresh failures per day",
            days=fleet.days,
            series=series,
        ),
        "daily_rows": list(zip(fleet.days, *(s.counts for s in fleet.series), strict=True)),
    }
    return render(request, "portal/staff/overview.html", context)
