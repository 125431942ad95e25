"""``/metrics``: the portal's figures for Prometheus, for the operator's scraper or for staff.

A scraper sends ``Authorization: Bearer <METRICS_TOKEN>``; a signed-in staff member who may see
all grants (``portal.view_all_grants``, the upkeep page's permission) may look too. Anyone else
gets 401 and not one figure: even counts tell an outsider how large the customer base is.
"""

import hmac

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal.models import VIEW_ALL_GRANTS
from portal.observe import metrics

MIN_TOKEN_LENGTH = 32


@login_not_required
@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _may_scrape(request):
        response = HttpResponse("Credentials required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics.render(), content_type=metrics.CONTENT_TYPE)


def _may_scrape(request: HttpRequest) -> bool:
    expected = settings.METRICS_TOKEN
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and offered.strip():
        # A short token (a placeholder, a typo) opens nothing; portal.E025 names it at start-up.
        return len(expected) >= MIN_TOKEN_LENGTH and hmac.compare_digest(
            offered.strip().encode(), expected.encode()
        )
    user = getattr(request, "user", None)
    return bool(
        user is not None and user.is_active and user.is_staff and user.has_perm(VIEW_ALL_GRANTS)
    )
