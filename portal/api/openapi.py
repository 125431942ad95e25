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


DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Desk Connect token API",
        "version": "1.0.0",
        "description": "Fresh Zoho Desk access tokens for the app's backend. Authenticate with "
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
                            },
                        },
                    )
                },
                ["400", "401", "429"],
                parameters=[
                    {"name": name, "in": "query", "required": False, "schema": schema}
                    for name, schema in (
                        ("email", {"type": "string", "maxLength": 254, "pattern": NO_NUL}),
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
                    )
                ],
            )
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
                                    "400 bad_request, webhook_url_refused; 409 "
                                    "needs_reconnect, revoking, revoked, token_unreadable, "
                                    "too_many_endpoints, user_inactive (staff deactivated the "
                                    "grant's owner: no token until they are reactivated); 429 "
                                    "refresh_too_soon, too_many_failures; 503 "
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
