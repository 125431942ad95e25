"""Staff pages watching migration campaigns (issue 17): the list, one campaign's funnel with
its charts and customers, and that list as CSV. The figures come from
``portal.migration.funnel``, the charts' geometry from ``portal.staff.charts``, and the CSV
cells go through the audit export's one neutralising rule."""

import csv
import io
from collections.abc import Iterator

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_safe

from portal.migration import funnel
from portal.models import MigrationCampaign, MigrationCustomer
from portal.staff.access import RUN_MIGRATIONS, staff_permission_required
from portal.staff.audit_export import neutralised
from portal.staff.charts import bar_chart, line_chart
from portal.staff.forms import CampaignCustomerFilterForm
from portal.staff.paging import query_link

PAGE_SIZE = 50
CSV_COLUMNS = [
    "line",
    "external_id",
    "email",
    "name",
    "data_centre",
    "desk_org_id",
    "stage",
    "failure_reason",
    "last_error",
    "invitations_sent",
    "invited_at",
    "connected_at",
]


@staff_permission_required(RUN_MIGRATIONS)
@require_safe
def campaigns(request: HttpRequest) -> HttpResponse:
    rows = [(campaign, funnel.funnel(campaign)) for campaign in _all_campaigns()]
    return render(request, "portal/staff/campaigns.html", {"rows": rows})


def _all_campaigns() -> list[MigrationCampaign]:
    return list(MigrationCampaign.objects.order_by("-created_at")[:200])


@staff_permission_required(RUN_MIGRATIONS)
@require_safe
def campaign(request: HttpRequest, pk: int) -> HttpResponse:
    chosen = get_object_or_404(MigrationCampaign, pk=pk)
    form = _filter_form(request, chosen)
    steps = funnel.funnel(chosen)
    page = None
    rows: list[tuple[MigrationCustomer, str]] = []
    if form.is_valid():
        paginator = Paginator(_filtered(chosen, form), PAGE_SIZE)
        page = paginator.get_page(form.cleaned_data["page"] or 1)
        rows = [(c, funnel.STAGE_LABELS[funnel.stage_of(c)]) for c in page.object_list]
    made = funnel.progress(chosen)
    shown = made.days[: len(made.converted)]
    series = [
        ("converted", "Converted", made.converted),
        ("connected", "Connected", made.connected),
    ]
    context = {
        "campaign": chosen,
        "steps": steps,
        "funnel_chart": bar_chart(
            title=f"Funnel of {chosen.name}",
            rows=[(step.label, step.count, f"chart-funnel-{step.key}") for step in steps],
        ),
        "progress_chart": line_chart(
            title="Customers converted and connected per day, until the deadline",
            days=made.days,
            series=series,
        ),
        "progress_rows": list(zip(shown, made.converted, made.connected, strict=True)),
        "form": form,
        "page": page,
        "rows": rows,
        "previous_url": _page_link(request, page.previous_page_number())
        if page and page.has_previous()
        else "",
        "next_url": _page_link(request, page.next_page_number())
        if page and page.has_next()
        else "",
        "export_url": query_link(request.GET, page=None),
        "today": timezone.localdate(),
    }
    return render(request, "portal/staff/campaign.html", context, status=200 if page else 400)


@staff_permission_required(RUN_MIGRATIONS)
@require_safe
def campaign_export_csv(request: HttpRequest, pk: int) -> HttpResponseBase:
    chosen = get_object_or_404(MigrationCampaign, pk=pk)
    form = _filter_form(request, chosen)
    if not form.is_valid():
        return HttpResponse("The filters are not valid.", status=400, content_type="text/plain")
    response = StreamingHttpResponse(
        _csv_lines(_filtered(chosen, form).iterator(chunk_size=500)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="campaign-{chosen.pk}.csv"'
    response["Cache-Control"] = "no-store"
    return response


def _filter_form(request: HttpRequest, chosen: MigrationCampaign) -> CampaignCustomerFilterForm:
    dcs = sorted(
        set(
            MigrationCustomer.objects.filter(campaign=chosen)
            .exclude(data_centre="")
            .values_list("data_centre", flat=True)
        )
    )
    stages = [(key, label) for key, label, _ in funnel.STAGES]
    return CampaignCustomerFilterForm(request.GET, stages=stages, dcs=dcs)


def _filtered(
    chosen: MigrationCampaign, form: CampaignCustomerFilterForm
) -> QuerySet[MigrationCustomer]:
    data = form.cleaned_data
    return funnel.customers(chosen, stage=data["stage"], dc=data["dc"], search=data["q"])


def _page_link(request: HttpRequest, number: int) -> str:
    return query_link(request.GET, page=number)


def _csv_lines(rows: Iterator[MigrationCustomer]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for customer in rows:
        cells = [
            str(customer.line),
            customer.user.external_id or "",
            customer.user.email,
            customer.user.first_name,
            customer.data_centre,
            customer.desk_org_id,
            funnel.stage_of(customer),
            customer.failure_reason,
            customer.last_error,
            str(customer.invitations_sent),
            customer.invited_at.isoformat() if customer.invited_at else "",
            customer.connected_at.isoformat() if customer.connected_at else "",
        ]
        writer.writerow([neutralised(cell) for cell in cells])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
