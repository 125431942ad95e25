"""One middleware that gives each request its id and counts it for ``/metrics``.

It is a plain Django middleware with no dependency on sessions, users or messages, so it works
in any middleware list; put it first, so the id is bound before anything else logs and the
latency covers the whole stack.
"""

import ipaddress
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.log import log_response

from accounts import request_id
from accounts.client_address import trusted_proxies
from portal.observe import metrics

HEADER = request_id.HEADER
# A client chooses the method: anything else is "other", or each invented one becomes a label.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestObservationMiddleware:
    """Bind the request's id for its logs, audit rows and jobs; echo it; time the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        rid = incoming_request_id(request)
        request.request_id = rid  # type: ignore[attr-defined]
        with request_id.bound(rid):
            response = self.get_response(request)
            if response.status_code >= 400:
                # Django logs 4xx/5xx answers after the last middleware returns, where the id
                # is no longer bound; logged here (the same line), it is logged once, with it.
                log_response(
                    "%s: %s",
                    response.reason_phrase,
                    request.path,
                    response=response,
                    request=request,
                )
        response[HEADER] = rid
        metrics.observe_request(
            route=route_of(request),
            method=request.method if request.method in METHODS else "other",
            status=response.status_code,
            seconds=time.perf_counter() - started,
        )
        # The Desk proxy (portal/api/desk_proxy.py) names how its call ended.
        outcome = getattr(request, "desk_proxy_outcome", None)
        if outcome is not None:
            method = request.method if request.method in METHODS else "other"
            metrics.count_desk_proxy_call(method=method, outcome=outcome)
        return response


def incoming_request_id(request: HttpRequest) -> str:
    """The proxy's ``X-Request-ID`` when the direct peer is a trusted proxy and the value is
    well formed; a fresh id otherwise (a client cannot choose the id its lines are filed under).
    """
    offered = str(request.META.get("HTTP_X_REQUEST_ID", ""))
    if offered and request_id.is_well_formed(offered) and _peer_is_trusted(request):
        return offered
    return request_id.generate()


def route_of(request: HttpRequest) -> str:
    """The URL pattern that answered (``api/v1/grants/<uuid:grant_id>/token``), never the path:
    paths hold ids, and one label per id would be both a privacy leak and unbounded."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.route or match.view_name or "unmatched"


def _peer_is_trusted(request: HttpRequest) -> bool:
    try:
        peer = ipaddress.ip_address(request.META.get("REMOTE_ADDR", "").strip())
    except ValueError:
        return False
    if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None:
        peer = peer.ipv4_mapped
    return any(peer in network for network in trusted_proxies(tuple(settings.TRUSTED_PROXIES)))
