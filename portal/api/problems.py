"""RFC 9457 problem details with stable codes, and the headers every API answer carries."""

from typing import Any

from django.http import JsonResponse

from portal.grants import wording

# Codes only the API meets. A grant's own refusals (needs_reconnect, revoked, busy, ...) are
# titled with the words the owner's pages show, from ``portal.grants.wording``.
TITLES = {
    "unauthorized": "A valid service key is required.",
    "too_many_failures": "Too many requests without a valid key from this address.",
    "not_found": "No such grant.",
    "not_found_here": "Nothing is served at this address.",
    "bad_request": "The request could not be read.",
    "invalid_external_id": "external_id is blank, too long or holds control characters.",
    "invalid_email": "email is not an email address.",
    "invalid_return_url": "return_url is not on the portal's allowlist.",
    "external_id_conflict": "Another portal user is bound to this external id.",
    "email_conflict": "Another portal user has this email.",
    "staff_user": "A staff account cannot be signed in by a connect link.",
    "too_many_requests": "Too many requests from this service key; retry shortly.",
    "webhook_url_refused": "The webhook URL is not allowed (https to a public address only).",
    "too_many_endpoints": "There are already as many webhook endpoints as allowed.",
    "service_unavailable": "The portal's database is briefly unavailable; retry shortly.",
    "server_error": "Something went wrong on our side.",
    # The Desk proxy (portal/api/desk_proxy.py)
    "desk_path_refused": "The Desk path or query is not a plain path under the Desk API.",
    "unknown_org": "The orgId header names an organization this grant does not reach.",
    "body_too_large": "The request body is too large for the Desk proxy.",
    "length_required": "The Desk proxy needs the request body's length.",
    "desk_unreachable": "Zoho Desk could not be reached.",
    "desk_timeout": "Zoho Desk did not answer in time.",
    "desk_answer_too_large": "Zoho Desk's answer is larger than the proxy relays.",
}


def title(code: str) -> str:
    """The problem title for ``code``; the code itself when nothing words it."""
    if code in TITLES:
        return TITLES[code]
    return wording.REFUSALS.get(code, code)


def api_response(data: dict[str, Any], status: int = 200) -> JsonResponse:
    response = JsonResponse(data, status=status)
    response["Cache-Control"] = "no-store"
    return response


def problem(
    code: str, status: int, *, detail: str = "", retry_after: int | None = None
) -> JsonResponse:
    body: dict[str, Any] = {
        "type": f"https://desk-connect.invalid/problems/{code}",
        "title": title(code),
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = detail
    response = api_response(body, status=status)
    response["Content-Type"] = "application/problem+json"
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="desk-connect"'
    return response
