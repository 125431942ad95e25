"""User-facing pages: landing, connections, health."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal import health


@login_not_required
def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/landing.html")


def connections(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/connections.html")


@login_not_required
@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    if health.database_is_up():
        return JsonResponse({"status": "ok", "database": "ok"})
    return JsonResponse({"status": "unavailable", "database": "unavailable"}, status=503)
