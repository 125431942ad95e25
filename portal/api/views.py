"""The token API for the app's backend: service-key auth only, JSON, no sessions, no CSRF."""

import json
import logging
import sys
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from accounts import ratelimit
from accounts.audit import AuditContext
from portal import health
from portal.api import caller as callers
from portal.api import problems
from portal.api.issuance import access_token_response
from portal.api.listing import grant_list_payload
from portal.grants import connect_sessions
from portal.grants.representation import grant_detail_payload
from portal.grants.revocation import revoke_grant

logger = logging.getLogger("portal.api")
MINUTE = timedelta(minutes=1)


def service_api(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Authenticate by service key (never by session) before the view runs."""

    @csrf_exempt
    @login_not_required
    @wraps(view)
    def wrapped(
        request: HttpRequest, grant_id: UUID | None = None, **kwargs: Any
    ) -> HttpResponseBase:
        found = callers.authenticate(request.META.get("HTTP_AUTHORIZATION", ""), grant_id)
        if found is None:
            logger.warning("api: refused a request without a valid service key")
            ip = ratelimit.client_ip(request)
            limit = settings.API_AUTH_FAILURES_PER_MINUTE  # counted on the failure path only
            if not ratelimit.allow(f"api-auth:ip:{ip}", limit=limit, window=MINUTE):
                return problems.problem("too_many_failures", 429, retry_after=60)
            return problems.problem("unauthorized", 401)
        caller, grant = found
        if grant_id is not None and grant is None:
            return problems.problem("not_found", 404)
        return (
            view(request, caller, grant, **kwargs) if grant_id else view(request, caller, **kwargs)
        )

    return wrapped


def json_body(request: HttpRequest) -> dict[str, Any] | None:
    """The request's JSON object ({} for no body), or None when it is not one."""
    if not request.body:
        return {}
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


@require_POST
@service_api
def access_token(
    request: HttpRequest, caller: callers.Caller, grant: callers.GrantState
) -> HttpResponse:
    body = json_body(request)
    if body is None:
        return problems.problem("bad_request", 400, detail="The body must be a JSON object.")
    min_valid = body.get("min_valid_seconds", 300)
    force = body.get("force_refresh", False)
    if isinstance(min_valid, float) and min_valid.is_integer():
        min_valid = int(min_valid)  # JSON Schema's integer: 279.0 is the integer 279
    if not isinstance(min_valid, int) or isinstance(min_valid, bool) or not 0 <= min_valid <= 3000:
        return problems.problem("bad_request", 400, detail="min_valid_seconds: 0 to 3000.")
    if not isinstance(force, bool):
        return problems.problem("bad_request", 400, detail="force_refresh must be true or false.")
    return access_token_response(
        caller=caller, grant=grant, min_valid=timedelta(seconds=min_valid), force=force
    )


@require_GET
@service_api
def grant_detail(
    request: HttpRequest, caller: callers.Caller, grant: callers.GrantState
) -> JsonResponse:
    return problems.api_response(grant_detail_payload(grant.id))


@require_POST
@service_api
def grant_revoke(
    request: HttpRequest, caller: callers.Caller, grant: callers.GrantState
) -> JsonResponse:
    # The service key acts; the API has never recorded the caller's address or user agent.
    context = AuditContext(actor=caller)
    outcome = revoke_grant(grant_id=grant.id, context=context, reason="requested through the API")
    return problems.api_response(
        {"id": str(grant.id), "grant_status": str(outcome) if outcome == "revoked" else "revoking"},
        status=200 if outcome == "revoked" else 202,
    )


@require_GET
@service_api
def grant_list(request: HttpRequest, caller: callers.Caller) -> JsonResponse:
    payload = grant_list_payload(request.GET)
    if payload is None:
        return problems.problem("bad_request", 400, detail="Unknown filter value or cursor.")
    return problems.api_response(payload)


@require_POST
@service_api
def connect_session_create(request: HttpRequest, caller: callers.Caller) -> JsonResponse:
    """A single-use link that signs the app's customer in and leads to the connect step."""
    body = json_body(request)
    if body is None:
        return problems.problem("bad_request", 400, detail="The body must be a JSON object.")
    limit = settings.API_CONNECT_SESSIONS_PER_MINUTE
    if not ratelimit.allow(f"connect-sessions:key:{caller.key_id}", limit=limit, window=MINUTE):
        return problems.problem("too_many_requests", 429, retry_after=60)
    try:
        created = connect_sessions.create_connect_session(
            context=AuditContext(actor=caller),
            key_id=caller.key_id,
            external_id=body.get("external_id"),
            email=body.get("email"),
            display_name=body.get("display_name", ""),
            return_url=body.get("return_url"),
        )
    except connect_sessions.ConnectSessionRefused as refused:
        return problems.problem(refused.code, refused.http_status, detail=refused.message)
    payload = {
        "id": str(created.id),
        "url": created.url,
        "expires_at": created.expires_at.isoformat(),
    }
    return problems.api_response(payload, status=201)


def server_error(request: HttpRequest) -> HttpResponse:
    """An error no view handled, as a problem document: 503 with Retry-After in an outage
    (logged as one warning line)."""
    error = sys.exc_info()[1]
    if error is not None and health.is_database_outage(error):
        retry = health.DATABASE_RETRY_AFTER_SECONDS
        response = problems.problem("service_unavailable", 503, retry_after=retry)
        health.answered_outage(request, response, error)
        return response
    return problems.problem("server_error", 500)
