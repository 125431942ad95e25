"""The record of every request the Zoho-facing endpoints received (for NO-EGRESS checks and
for counting refreshes). Only identifiers and outcomes; never a token, code or secret."""

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from sandbox.models import Fault, RecordedRequest

_SAFE = re.compile(r"[^A-Za-z0-9_. -]+")
FILTERS = ("dc", "endpoint", "zuid", "client_id", "since", "after", "limit")


@dataclass
class Draft:
    """What a view learns about its request while handling it."""

    dc: str
    endpoint: str
    method: str
    client_id: str = ""
    zuid: str = ""
    grant_id: int | None = None
    error_code: str = ""
    faults: list[str] = field(default_factory=list)
    header_names: list[str] = field(default_factory=list)
    org_id: str = ""
    arrived_at: datetime = field(default_factory=timezone.now)


class SandboxRequest(HttpRequest):
    """A request to a Zoho-facing endpoint, as ``zoho_endpoint`` hands it to the view: with its
    record and what the faults decided (a type for annotations; Django builds the request)."""

    sandbox: Draft
    sandbox_drip: Fault | None  # set by a drip fault; read with getattr, absent otherwise
    sandbox_dropped: bool  # set when a fault cut the connection; likewise


def safe_text(value: object, limit: int) -> str:
    """Bounded text with only harmless characters (client ids and error codes come from
    requests, so they are cut and cleaned before they are stored)."""
    return _SAFE.sub("_", str(value))[:limit]


def save(draft: Draft, status: int | None) -> RecordedRequest:
    """Store one request's record (when it is answered; ``at`` is when it arrived)."""
    return RecordedRequest.objects.create(
        created_at=draft.arrived_at,
        data_centre=safe_text(draft.dc, 16),
        endpoint=draft.endpoint,
        method=safe_text(draft.method, 10),
        status=status,
        error_code=safe_text(draft.error_code, 64),
        client_id=safe_text(draft.client_id, 200),
        zuid=safe_text(draft.zuid, 20),
        grant_id=draft.grant_id,
        fault=",".join(draft.faults)[:200],
        header_names=[safe_text(name, 100) for name in draft.header_names[:100]],
        org_id=safe_text(draft.org_id, 20),
    )


def find_requests(filters: dict[str, str]) -> QuerySet[RecordedRequest]:
    """Records in arrival order, filtered by dc, endpoint, zuid, client_id, since (ISO time),
    after (record id) and limit (the newest N)."""
    rows = RecordedRequest.objects.all()
    if any("\x00" in (value or "") for value in filters.values()):
        return rows.none()
    for name, column in (
        ("dc", "data_centre"),
        ("endpoint", "endpoint"),
        ("zuid", "zuid"),
        ("client_id", "client_id"),
    ):
        if filters.get(name):
            rows = rows.filter(**{column: filters[name]})
    since = _when(filters.get("since"))
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if (filters.get("after") or "").isdigit():
        rows = rows.filter(pk__gt=int(filters["after"]))
    if (filters.get("limit") or "").isdigit():
        newest = rows.order_by("-id").values_list("pk", flat=True)[: int(filters["limit"])]
        rows = RecordedRequest.objects.filter(pk__in=list(newest))
    return rows.order_by("id")


def request_as_dict(row: RecordedRequest) -> dict[str, Any]:
    return {
        "id": row.pk,
        "at": row.created_at.isoformat(),
        "dc": row.data_centre,
        "endpoint": row.endpoint,
        "method": row.method,
        "status": row.status,
        "error": row.error_code or None,
        "client_id": row.client_id or None,
        "zuid": row.zuid or None,
        "grant_id": row.grant_id,
        "fault": row.fault or None,
        "fault_fired": bool(row.fault),
        "header_names": row.header_names,
        "org_id": row.org_id or None,
    }


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None
