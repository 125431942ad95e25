"""Staff page: the background worker's health."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from portal.observe.metrics import route_figures
from portal.staff.access import VIEW_ALL_GRANTS, staff_permission_required
from portal.upkeep.report import upkeep_report


@staff_permission_required(VIEW_ALL_GRANTS)
def upkeep(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "portal/staff/upkeep.html",
        {"report": upkeep_report(now=timezone.now()), "routes": route_figures()},
    )
