"""The OpenAPI 3.1 description of the token API (kept next to the views it describes)."""

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

PROBLEM = {"$ref": "#/components/responses/Problem"}
GRANT_ID = {
    "name": "grant_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
NO_NUL = "^[^\\u0000]*$"  # PostgreSQL text cannot hold NUL; such values are refused
WHEN = {"type": ["string", "null"], "format": "date-time"}

GRANT: dict[str, Any] = {
    "type": "object",
    "required": ["id", "status", "owner", "data_centre", "zoho_user_id", "organizations"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "status": {"enum": ["active", "trouble", "needs_reconnect", "revoking", "revoked"]},
        "owner": {
            "type": "object",
            "properties": {"id": {"type": "integer"}, "email": {"type": "string"}},
        },
        "external_id": {
            "type": ["string", "null"],
            "description": "The app's own id for the grant's owner (set by connect sessions).",
        },
        "data_centre": {"type": "string"},
        "zoho_user_id": {"type": "string"},
        "zoho_email": {"type": "string"},
        "organizations": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
            },
        },
        "scopes": {"type": "array", "items": {"type": "string"}},
        "api_domain": {"type": "string"},
        "desk_api_base": {"type": "string"},
        "access_token_expires_at": WHEN,
        "connected_at": WHEN,
        "last_refreshed_at": WHEN,
        "last_used_at": WHEN,
        "revoked_at": WHEN,
        "last_error": {"type": ["string", "null"]},
    },
}

# No C0/C1 control characters (the server also refuses lone surrogates), and not blank.
_TEXT = "[^\\u0000-\\u001f\\u007f-\\u009f]"
EXTERNAL_ID = {
    "type": "string",
    "minLength": 1,
    "maxLength": 200,
    "pattern": f"^{_TEXT}*[^\\s\\u0000-\\u001f\\u007f-\\u009f]{_TEXT}*$",
}

CONNECT_SESSION_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["external_id", "email"],
    "properties": {
        "external_id": {
            **EXTERNAL_ID,
            "description": "Your own customer id: the safe key to find their grants later.",
        },
        "email": {"type": "string", "format": "email", "maxLength": 254},
        "display_name": {"type": "string", "maxLength": 150, "pattern": f"^{_TEXT}*$"},
        "return_url": {
            "type": "string",
            "format": "uri",
            "maxLength": 2000,
            "description": "Where the customer returns after connecting (must match "
            "CONNECT_RETURN_URL_ALLOWLIST), with outcome=connected|cancelled|failed, grant_id "
            "and session_id added to its query.",
        },
    },
}

CONNECT_SESSION = {
    "type": "object",
    "required": ["id", "url", "expires_at"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "url": {
            "type": "string",
            "description": "Single use; send the customer there before expires_at.",
        },
        "expires_at": {"type": "string", "format": "date-time"},
    },
}

ACCESS_TOKEN = {
    "type": "object",
    "required": ["access_token", "token_type", "expires_at", "api_domain", "desk_api_base"],
    "properties": {
        "access_token": {"type": "string"},
        "token_type": {"const": "Zoho-oauthtoken"},
        "expires_at": {"type": "string", "format": "date-time"},
        "api_domain": {"type": "string"},
        "desk_api_base": {"type": "string"},
        "org_ids": {"type": "array", "items": {"type": "string"}},
        "grant_status": {"const": "active"},
    },
}


EVENT_TYPES = [
    "grant.connected",
    "grant.reconnected",
    "grant.needs_reconnect",
    "grant.recovered",
    "grant.warning",
    "grant.revoked",
]
WEBHOOK: dict[str, Any] = {
    "type": "object",
    "required": ["id", "url", "events", "created_at"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "url": {"type": "string"},
        "events": {"type": "array", "items": {"enum": EVENT_TYPES}},
        "created_at": {"type": "string", "format": "date-time"},
        "disabled_at": WHEN,
        "previous_secret_until": WHEN,
    },
}
_LABEL = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
URL_PATTERN = f'^https://{_LABEL}(\\.{_LABEL})*(:[1-9][0-9]{{0,3}})?(/[!-"$-~]*)?$'
WITH_SECRET = {
    **WEBHOOK,
    "required": [*WEBHOOK["required"], "secret"],
    "properties": {**WEBHOOK["properties"], "secret": {"type": "string", "pattern": "^whsec_"}},
}
NEW_WEBHOOK = {
    "type": "object",
    "required": ["url", "events"],
    "properties": {
        "url": {
            "type": "string",
            "maxLength": 2000,
            "pattern": URL_PATTERN,
            "description": "https, resolving to public addresses only (checked again at every "
            "delivery); redirects are never followed.",
        },
        "events": {
            "type": "array",
            "items": {"enum": EVENT_TYPES},
            "minItems": 1,
            "uniqueItems": True,
        },
    },
}


def _op(summary: str, ok: dict[str, Any], errors: list[str], **extra: Any) -> dict[str, Any]:
    responses: dict[str, Any] = {**ok}
    responses.update({code: PROBLEM for code in errors})
    return {"summary": summary, "responses": responses, **extra}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


UPDATED_SINCE = {
    "type": "string",
    "format": "date-time",
    "description": "The change feed: grants whose shown fields changed after this time (RFC "
    "3339, with an offset), oldest change first. Combines with `cursor` only. "
    "`next_cursor` is set on the last page too: keep it and ask again later, with the same "
    "`updated_since`, for what changed since. A change is listed once its transaction and "
    "every older one still open have committed, so a reader never skips one.",
}
# A plain path segment: URL-safe characters, not only dots, at most 200 of them.
_SEGMENT = "[A-Za-z0-9._~-]{0,99}[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,100}"
DESK_PATH = {
    "name": "path",
    "in": "path",
    "required": True,
    "description": "A Desk API path under the grant's Desk API base (`tickets/123`); plain "
    "segments only: `..`, encoded slashes or dots, backslashes, `//`, `@`, `:` are refused.",
    "schema": {
        "type": "string",
        "maxLength": 1000,
        "pattern": f"^{_SEGMENT}(/{_SEGMENT})*$",
    },
}


def _desk_proxy(method: str) -> dict[str, Any]:
    """One method of the Desk proxy: Desk's own answer, relayed (so any status and type)."""
    operation: dict[str, Any] = {
        "summary": f"{method.upper()} on the grant's Desk API, with a fresh token added "
        "(the token never leaves the portal)",
        "description": "Forwarded to `<desk_api_base>/<path>` with the query string, the body "
        "(at most 1 MiB, else 413 body_too_large) and an `orgId` header: the caller's when it "
        "names one of the grant's organizations (else 400 unknown_org), by default the grant's "
        "organization when it has exactly one. When Desk answers 401 "
        "INVALID_OAUTH the token is refreshed and the call sent once more. Desk's status, body "
        "and safe headers (Content-Type, Retry-After, X-Rate-Limit-*, ETag, ...) come back as "
        "Desk sent them, 429 included. The portal's own refusals are problems: 400 "
        "desk_path_refused, unknown_org, 401, 404, 409 as the access-token call, 411 "
        "length_required (a chunked body), 413, 429 "
        "too_many_failures, 502 desk_unreachable / desk_answer_too_large, 503, 504 "
        "desk_timeout.",
        "parameters": [GRANT_ID, DESK_PATH],
        "responses": {
            "204": {"description": "Desk's answer without a body"},
            "default": {
                "description": "Desk's answer as Desk sent it, or a problem of the portal's",
                "content": {"*/*": {"schema": {}}},
            },
        },
    }
    if method in ("post", "patch", "put"):
        operation["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    return operation


DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Desk Connect token API",
        "version": "1.0.0",
        "description": "Fresh Zoho Desk access tokens for the app's backend, a change feed of "
        "grants, and a proxy to each grant's Desk API. Authenticate with "
        "`Authorization: Bearer <service key>`; sessions and cookies are ignored.",
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"serviceKey": []}],
    "paths": {
        "/grants": {
            "get": _op(
                "List grants",
                {
                    "200": _json(
                        "A page of grants",
                        {
                            "type": "object",
                            "properties": {
                                "grants": {"type": "array", "items": GRANT},
                                "next_cursor": {"type": ["string", "null"]},
                                "has_more": {
                                    "type": "boolean",
                                    "description": "The change feed only: more changes now.",
                                },
                            },
                        },
                    )
                },
                ["400", "401", "429"],
                parameters=[
                    {"name": name, "in": "query", "required": False, "schema": schema}
                    for name, schema in (
                        (
                            "external_id",
                            {
                                "type": "string",
                                "maxLength": 200,
                                "pattern": NO_NUL,
                                "description": "The safe key: the id your connect session "
                                "bound to the customer.",
                            },
                        ),
                        (
                            "email",
                            {
                                "type": "string",
                                "maxLength": 254,
                                "pattern": NO_NUL,
                                "description": "Matches verified emails only (confirmed by "
                                "their owner or given by a connect session); prefer external_id.",
                            },
                        ),
                        ("user_id", {"type": "string", "pattern": "^[0-9]{1,18}$"}),
                        ("org_id", {"type": "string", "maxLength": 32, "pattern": NO_NUL}),
                        ("status", GRANT["properties"]["status"]),
                        (
                            "cursor",
                            {
                                "type": "string",
                                "maxLength": 200,
                                "description": "Opaque: pass next_cursor from a previous page.",
                            },
                        ),
                        ("updated_since", UPDATED_SINCE),
                    )
                ],
            )
        },
        "/grants/{grant_id}/desk/{path}": {
            method: _desk_proxy(method) for method in ("get", "post", "patch", "put", "delete")
        },
        "/grants/{grant_id}": {
            "get": _op(
                "One grant's status and metadata (never a token)",
                {"200": _json("The grant", GRANT)},
                ["401", "404", "429"],
                parameters=[GRANT_ID],
            )
        },
        "/grants/{grant_id}/access-token": {
            "post": _op(
                "A fresh access token (refreshed once, however many callers ask)",
                {"200": _json("An access token", ACCESS_TOKEN)},
                ["400", "401", "404", "409", "429", "503"],
                parameters=[GRANT_ID],
                requestBody={
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "min_valid_seconds": {
                                        "type": "integer",
                                        "minimum": 0,
                                        "maximum": 3000,
                                    },
                                    "force_refresh": {"type": "boolean"},
                                },
                            }
                        }
                    },
                },
            )
        },
        "/connect-sessions": {
            "post": _op(
                "A single-use, expiring link that signs your customer in and starts connecting",
                {"201": _json("The link", CONNECT_SESSION)},
                ["400", "401", "409", "429"],
                requestBody={
                    "required": True,
                    "content": {"application/json": {"schema": CONNECT_SESSION_REQUEST}},
                },
            )
        },
        "/ping": {
            "get": {
                "summary": "Liveness without the database (no key needed)",
                "security": [],
                "responses": {"200": _json("Alive", {"type": "object"})},
            }
        },
        "/webhooks": {
            "get": _op(
                "List webhook endpoints (global to the portal; never a secret)",
                {
                    "200": _json(
                        "Endpoints",
                        {
                            "type": "object",
                            "properties": {"webhooks": {"type": "array", "items": WEBHOOK}},
                        },
                    )
                },
                ["401", "429"],
            ),
            "post": _op(
                "Register an endpoint for Standard Webhooks grant events",
                {"201": _json("Registered: the secret (whsec_…) is shown this once", WITH_SECRET)},
                ["400", "401", "409", "429"],
                requestBody={
                    "required": True,
                    "content": {"application/json": {"schema": NEW_WEBHOOK}},
                },
            ),
        },
        "/webhooks/{webhook_id}": {
            "delete": _op(
                "Delete an endpoint and its delivery log",
                {"204": {"description": "Deleted"}},
                ["401", "404", "429"],
                parameters=[{**GRANT_ID, "name": "webhook_id"}],
            )
        },
        "/webhooks/{webhook_id}/secret": {
            "post": _op(
                "Rotate the signing secret: the new one is shown once; the old one keeps "
                "signing (a second signature) until previous_secret_until, a day",
                {"200": _json("The endpoint and its new secret", WITH_SECRET)},
                ["401", "404", "429"],
                parameters=[{**GRANT_ID, "name": "webhook_id"}],
            )
        },
        "/grants/{grant_id}/revoke": {
            "post": _op(
                "Revoke the grant (hand-out stops at once)",
                {
                    "200": _json("Revoked at Zoho", {"type": "object"}),
                    "202": _json("Revoking; Zoho has not confirmed yet", {"type": "object"}),
                },
                ["401", "404", "429"],
                parameters=[GRANT_ID],
            )
        },
    },
    "components": {
        "securitySchemes": {"serviceKey": {"type": "http", "scheme": "bearer"}},
        "responses": {
            "Problem": {
                "description": "RFC 9457 problem details with a stable code",
                "content": {
                    "application/problem+json": {
                        "schema": {
                            "type": "object",
                            "required": ["type", "title", "status", "code"],
                            "properties": {
                                "type": {"type": "string"},
                                "title": {"type": "string"},
                                "status": {"type": "integer"},
                                "code": {
                                    "type": "string",
                                    "description": "Stable: 401 unauthorized; 404 not_found; "
                                    "400 bad_request, invalid_external_id, invalid_email, "
                                    "invalid_return_url, webhook_url_refused; 409 "
                                    "external_id_conflict, email_conflict, staff_user, "
                                    "needs_reconnect, revoking, revoked, token_unreadable, "
                                    "too_many_endpoints, user_inactive (staff deactivated the "
                                    "grant's owner: no token until they are reactivated); 429 "
                                    "refresh_too_soon, too_many_failures, too_many_requests; 503 "
                                    "upstream_unavailable, busy, portal_misconfigured "
                                    "(Zoho rejects the portal's own client in the grant's data "
                                    "centre; the grant is fine, retry after Retry-After).",
                                },
                                "detail": {"type": "string"},
                            },
                        }
                    }
                },
            }
        },
    },
}


@login_not_required
@require_GET
def openapi_document(request: HttpRequest) -> JsonResponse:
    return JsonResponse(DOCUMENT)


@login_not_required
@require_GET
def ping(request: HttpRequest) -> JsonResponse:
    """The cheapest JSON answer the server can give (no database): liveness, and the
    baseline the token API's hot path is measured against in bench/."""
    return JsonResponse({"ok": True})
