"""``/api/v1/grants/{id}/desk/<path>``: the app's backend calls Desk through the portal, and
the grant's access token never leaves it.

A call is checked first (path, query, ``orgId``, body size) and refused as a problem before
any token is fetched. The token comes from the token API's own decision and the one token
service (the same refusals: 409 for a grant that hands out nothing, 429, 503); the request
goes to the grant's data centre's Desk API base only (``portal.zoho.desk_proxy``). When
Desk answers 401 ``INVALID_OAUTH`` the token is replaced once (a refresh that does not wait
out the forced-refresh minute, shared with any concurrent caller) and the call is sent
again, once. Desk's answer is streamed back with its status and a few safe headers
(``Retry-After`` and ``X-Rate-Limit-*`` included, so a 429 reaches the caller as Desk sent
it); Desk unreachable is 502, too slow 504. Each call is counted by method and outcome in
``/metrics`` (the view names the outcome on the request, ``portal.observe``'s middleware
counts it); none is audited (the token never leaves, so nothing is issued).
"""

import logging
from datetime import datetime, timedelta

from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods

from portal import zoho
from portal.api.caller import Caller, GrantState
from portal.api.issuance import issue_token, refusal_problem, touch
from portal.api.problems import problem
from portal.api.views import service_api
from portal.grants import tokens
from portal.grants.token_decision import Force
from portal.zoho import desk_proxy as desk

logger = logging.getLogger("portal.api")

METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE"]
MAX_REQUEST_BYTES = 1024 * 1024
# A proxied call lasts at most the Zoho client's deadline; the token must outlive it.
TOKEN_MIN_VALID = timedelta(seconds=60)
PASSED_HEADERS = ("Content-Type", "Accept", "Accept-Language", "If-None-Match")


class _Refused(Exception):
    """The call ends here with ``response`` (a problem), counted as ``outcome``."""

    def __init__(self, response: JsonResponse, outcome: str) -> None:
        super().__init__(outcome)
        self.response = response
        self.outcome = outcome


@require_http_methods(METHODS)
@service_api
def desk_proxy(
    request: HttpRequest, caller: Caller, grant: GrantState, desk_path: str
) -> HttpResponseBase:
    try:
        response, outcome = _proxy(request, caller, grant, desk_path)
    except _Refused as refused:
        response, outcome = refused.response, refused.outcome
    # Counted for /metrics by portal.observe's middleware, which sees every answer.
    request.desk_proxy_outcome = outcome  # type: ignore[attr-defined]
    logger.info("desk proxy grant=%s method=%s outcome=%s", grant.id, request.method, outcome)
    return response


@sensitive_variables("token")
def _proxy(
    request: HttpRequest, caller: Caller, grant: GrantState, desk_path: str
) -> tuple[HttpResponseBase, str]:
    dc = zoho.data_centre(grant.data_centre)
    try:
        call = desk.desk_call(
            dc=dc,
            method=request.method or "GET",
            path=desk_path,
            query=request.META.get("QUERY_STRING", ""),
            headers=_headers(request, grant),
            body=_body(request),
        )
    except desk.UnsafeDeskPath as error:
        raise _Refused(problem("desk_path_refused", 400, detail=error.code), "refused") from None
    now = timezone.now()
    token = _token(grant, now=now, force=Force.NO)
    answer = _forward(call, token)
    if answer.error_code == "invalid_oauth":
        answer.close()
        # Once (a second 401 is relayed). Asked now: only a refresh made after Desk's refusal
        # is shared, so even a token refreshed for this very call is replaced.
        token = _token(grant, now=timezone.now(), force=Force.REJECTED)
        answer = _forward(call, token)
    try:
        touch(caller, grant, now)
    except Exception:
        answer.close()  # nothing will stream it
        raise
    return _streamed(answer), _outcome(answer.status)


def _headers(request: HttpRequest, grant: GrantState) -> dict[str, str]:
    """The caller's content headers, and ``orgId``: theirs when it is one of the grant's
    organizations (else 400), the grant's own when it has exactly one, else none."""
    org_ids = [str(org.get("id")) for org in grant.organizations]
    org_id = request.headers.get("orgId")
    if org_id is not None and org_id not in org_ids:
        detail = "orgId must be one of the grant's organizations."
        raise _Refused(problem("unknown_org", 400, detail=detail), "refused")
    if org_id is None and len(org_ids) == 1:
        org_id = org_ids[0]
    headers = {name: request.headers[name] for name in PASSED_HEADERS if name in request.headers}
    if org_id is not None:
        headers["orgId"] = org_id
    return headers


def _body(request: HttpRequest) -> bytes:
    """The request body, refused unread when declared too large and cut at one byte over.

    A body without a length (``Transfer-Encoding: chunked``) is refused with 411: Django reads
    only as many bytes as ``Content-Length`` says, so it would be forwarded as empty.
    """
    if "Transfer-Encoding" in request.headers:
        detail = "Send the body with a Content-Length."
        raise _Refused(problem("length_required", 411, detail=detail), "refused")
    declared = request.META.get("CONTENT_LENGTH") or ""
    too_large = _Refused(problem("body_too_large", 413, detail="At most 1 MiB."), "refused")
    if declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
        raise too_large
    body = request.read(MAX_REQUEST_BYTES + 1)
    if len(body) > MAX_REQUEST_BYTES:
        raise too_large
    return body


@sensitive_variables("issued")
def _token(grant: GrantState, *, now: datetime, force: Force) -> str:
    try:
        issued = issue_token(grant=grant, now=now, min_valid=TOKEN_MIN_VALID, force=force)
    except tokens.GrantError as error:
        raise _Refused(refusal_problem(error), "token_refused") from None
    return issued.access_token


@sensitive_variables("token")
def _forward(call: desk.DeskCall, token: str) -> desk.DeskAnswer:
    try:
        return desk.forward(call=call, access_token=token)
    except zoho.ZohoUnavailable as error:
        if error.code == "timeout":
            raise _Refused(problem("desk_timeout", 504), "timeout") from None
        code = "desk_answer_too_large" if error.code == "response_too_large" else "desk_unreachable"
        raise _Refused(problem(code, 502), "unreachable") from None


def _streamed(answer: desk.DeskAnswer) -> StreamingHttpResponse:
    response = StreamingHttpResponse(answer.chunks(), status=answer.status)
    del response["Content-Type"]  # Desk's, when it sent one
    for name, value in answer.headers:
        response[name] = value
    response["Cache-Control"] = "no-store"
    return response


def _outcome(status: int) -> str:
    return "rate_limited" if status == 429 else f"desk_{status // 100}xx"
