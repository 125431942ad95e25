"""A grant as the API shows it: the one representation, for the API's answers and for events.

The API's listing and detail answers and the webhook events' ``data`` (``portal.grants.events``)
all build their grant from :func:`grant_payload`, so a field added here appears everywhere.
Never a token: only the columns in :data:`GRANT_FIELDS` are read.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

from portal.models import ZohoGrant

GRANT_FIELDS = (
    "id",
    "user_id",
    "user__email",
    "user__external_id",
    "data_centre",
    "zoho_user_id",
    "zoho_email",
    "organizations",
    "scope",
    "status",
    "api_domain",
    "desk_base_url",
    "access_token_expires_at",
    "created_at",
    "connected_at",
    "last_refreshed_at",
    "last_used_at",
    "revoked_at",
    "last_error",
)


def grant_payload(row: dict[str, Any]) -> dict[str, Any]:
    """The JSON object for one grant, from a ``values(*GRANT_FIELDS)`` row."""

    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": str(row["id"]),
        "status": row["status"],
        "owner": {"id": row["user_id"], "email": row["user__email"]},
        "external_id": row["user__external_id"],
        "data_centre": row["data_centre"],
        "zoho_user_id": row["zoho_user_id"],
        "zoho_email": row["zoho_email"],
        "organizations": row["organizations"],
        "scopes": [scope for scope in row["scope"].split(",") if scope],
        "api_domain": row["api_domain"],
        "desk_api_base": row["desk_base_url"],
        "access_token_expires_at": when(row["access_token_expires_at"]),
        "connected_at": when(row["connected_at"]),
        "last_refreshed_at": when(row["last_refreshed_at"]),
        "last_used_at": when(row["last_used_at"]),
        "revoked_at": when(row["revoked_at"]),
        "last_error": row["last_error"] or None,
    }


def grant_detail_payload(grant_id: UUID) -> dict[str, Any]:
    """One grant's JSON object, read from the database now (inside the caller's transaction)."""
    return grant_payload(ZohoGrant.objects.filter(pk=grant_id).values(*GRANT_FIELDS).get())
