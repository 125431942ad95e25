"""Zoho Desk API calls used to identify and test a connection."""

from dataclasses import dataclass
from typing import Any

import httpx2
from django.views.decorators.debug import sensitive_variables

from portal.zoho.datacentres import DataCentre
from portal.zoho.errors import ZohoRejected, ZohoUnavailable, safe_code
from portal.zoho.http import client_options, json_object, upstream
from portal.zoho.oauth import clean_text

DESK_REJECTIONS = {"invalid_oauth", "unauthorized", "oauth_org_mismatch", "scope_mismatch"}


@dataclass(frozen=True)
class DeskOrganization:
    id: str
    name: str


@dataclass(frozen=True)
class DeskAgent:
    id: str
    name: str
    email: str


@sensitive_variables("access_token")
def _get(
    dc: DataCentre, endpoint: str, path: str, access_token: str, org_id: str | None = None
) -> dict[str, Any]:
    headers = {"Authorization": f"Zoho-oauthtoken {access_token}"}
    if org_id:
        headers["orgId"] = org_id
    with upstream(endpoint, dc.code), httpx2.Client(**client_options()) as client:
        response = client.get(f"{dc.desk_api_base}{path}", headers=headers)
        body = json_object(response)
        if response.status_code in (401, 403, 422):
            code = safe_code(body.get("errorCode", f"http_{response.status_code}"))
            raise ZohoRejected(code) if code in DESK_REJECTIONS else ZohoUnavailable(code)
        response.raise_for_status()
        return body


def organizations(*, dc: DataCentre, access_token: str) -> list[DeskOrganization]:
    """The Desk organizations the token can reach (``GET /organizations``, no orgId)."""
    body = _get(dc, "desk_organizations", "/organizations", access_token)
    rows = body.get("data")
    if not isinstance(rows, list):
        raise ZohoUnavailable("malformed_response")
    return [
        DeskOrganization(
            id=clean_text(row.get("id"), limit=32), name=clean_text(row.get("companyName"))
        )
        for row in rows
        if isinstance(row, dict) and row.get("id") is not None
    ]


def myinfo(*, dc: DataCentre, access_token: str, org_id: str) -> DeskAgent:
    """The agent behind the token in organization ``org_id`` (``GET /myinfo``)."""
    body = _get(dc, "desk_myinfo", "/myinfo", access_token, org_id=org_id)
    return DeskAgent(
        id=clean_text(body.get("id"), limit=32),
        name=clean_text(body.get("name"))
        or " ".join(clean_text(body.get(k)) for k in ("firstName", "lastName")).strip(),
        email=clean_text(body.get("emailId")),
    )
