"""RFC 9457 problem details with stable codes, and the headers every API answer carries."""

from typing import Any

from django.http import JsonResponse

TITLES = {
    "unauthorized": "A valid service key is required.",
    "too_many_failures": "Too many requests without a valid key from this address.",
    "not_found": "No such grant.",
    "bad_request": "The request could not be read.",
    "needs_reconnect": "Zoho no longer accepts this grant; its owner must reconnect it.",
    "revoked": "The grant was revoked.",
    "revoking": "The grant is being revoked; no token is handed out.",
    "user_inactive": "The grant's owner is deactivated.",
    "refresh_too_soon": "The grant was refreshed moments ago; use the current token.",
    "upstream_unavailable": "Zoho could not give a fresh token just now; retry later.",
    "busy": "Another request is refreshing this grant; retry shortly.",
    "token_unreadable": "The stored token could not be decrypted; the owner must reconnect.",
}


def api_response(data: dict[str, Any], status: int = 200) -> JsonResponse:
    response = JsonResponse(data, status=status)
    response["Cache-Control"] = "no-store"
    return response


def problem(
    code: str, status: int, *, detail: str = "", retry_after: int | None = None
) -> JsonResponse:
    body: dict[str, Any] = {
        "type": f"https://desk-connect.invalid/problems/{code}",
        "title": TITLES.get(code, code),
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
