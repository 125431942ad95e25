"""Grant listings for the API: filters, keyset pagination, and never any token."""

from datetime import datetime
from typing import Any
from uuid import UUID

from django import forms
from django.http import QueryDict

from portal.api import feed
from portal.grants.keyset import Seek
from portal.models import ZohoGrant

PAGE_SIZE = 50
# Newest first; served by the (created_at, id) index the staff list's "-created" order uses.
API_SEEK = Seek(
    "api-grants",
    ('"portal_zohogrant"."created_at"', '"portal_zohogrant"."id"'),
    ("datetime", "uuid"),
    True,
)
_FIELDS = (
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


def _payload(row: dict[str, Any]) -> dict[str, Any]:
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
    return _payload(ZohoGrant.objects.filter(pk=grant_id).values(*_FIELDS).get())


class GrantFilterForm(forms.Form):
    """The list's filters; any value that is not valid (NUL bytes included) is refused."""

    email = forms.CharField(required=False, max_length=254)
    external_id = forms.CharField(required=False, max_length=200, strip=False)
    user_id = forms.RegexField(required=False, regex=r"^[0-9]{1,18}$")
    org_id = forms.CharField(required=False, max_length=32)
    status = forms.ChoiceField(required=False, choices=[("", ""), *ZohoGrant.Status.choices])
    cursor = forms.CharField(required=False, max_length=200)
    updated_since = feed.TimestampField(required=False)  # the change feed (portal/api/feed.py)


def grant_list_payload(query: QueryDict) -> dict[str, Any] | None:
    """One page of grants matching the filters, or None when a filter value is invalid."""
    form = GrantFilterForm(query)
    if not form.is_valid():
        return None
    wanted = form.cleaned_data
    grants = ZohoGrant.objects.all()
    if wanted["external_id"]:
        grants = grants.filter(user__external_id=wanted["external_id"])
    if wanted["email"]:
        # Verified emails only: anybody can sign up with an address they do not own.
        grants = grants.filter(
            user__email__iexact=wanted["email"], user__email_verified_at__isnull=False
        )
    if wanted["user_id"]:
        grants = grants.filter(user_id=int(wanted["user_id"]))
    if wanted["org_id"]:
        grants = grants.filter(organizations__contains=[{"id": wanted["org_id"]}])
    if wanted["status"]:
        grants = grants.filter(status=wanted["status"])
    if wanted["updated_since"]:
        since, cursor = wanted["updated_since"], wanted["cursor"]
        return feed.change_page(grants, since=since, cursor=cursor, fields=_FIELDS, show=_payload)
    if wanted["cursor"]:
        position = API_SEEK.decode(wanted["cursor"])
        if position is None:
            return None
        grants = grants.filter(API_SEEK.after(position))
    rows = list(grants.order_by("-created_at", "-id").values(*_FIELDS)[: PAGE_SIZE + 1])
    page = rows[:PAGE_SIZE]
    after = None
    if len(rows) > PAGE_SIZE:
        after = API_SEEK.encode([page[-1]["created_at"], page[-1]["id"]])
    return {"grants": [_payload(row) for row in page], "next_cursor": after}
