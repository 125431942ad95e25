"""Staff page: the background worker's health."""

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from portal.upkeep_report import upkeep_report


@permission_required("portal.view_zohogrant", raise_exception=True)
def upkeep(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/upkeep.html", {"report": upkeep_report(now=timezone.now())})
