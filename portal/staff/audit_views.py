"""Staff pages: the audit log (filters, keyset pages) and its CSV / JSON-lines exports."""

from dataclasses import dataclass
from datetime import UTC
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone

from accounts.audit import AuditContext, event_page, list_events, record_event
from accounts.models import AuditEvent
from portal.staff.access import VIEW_AUDIT_LOG, staff_permission_required
from portal.staff.audit_export import csv_stream, jsonl_stream
from portal.staff.audit_forms import AuditFilterForm
from portal.staff.paging import cursor_link

NAME_LIMIT = 80
REASON_LIMIT = 200


@dataclass(frozen=True)
class AuditRow:
    seq: int
    at: str
    actor: str
    action: str
    outcome: str
    is_failure: bool
    grant: str
    grant_id: str
    owner: str
    reason: str
    ip_address: str


@staff_permission_required(VIEW_AUDIT_LOG)
def audit(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    context: dict[str, object] = {"form": form, "rows": [], "newer_url": "", "older_url": ""}
    if not form.is_valid():
        return render(request, "portal/staff/audit.html", context, status=400)
    page = event_page(
        list_events(**form.filters()),
        before=form.cleaned_data["before"],
        after=form.cleaned_data["after"],
    )
    query = form.query()
    context.update(
        rows=[_row(event) for event in page.events],
        newer_url=cursor_link(query, name="after", cursor=page.newer),
        older_url=cursor_link(query, name="before", cursor=page.older),
        export_query=urlencode(query),
    )
    return render(request, "portal/staff/audit.html", context)


@staff_permission_required(VIEW_AUDIT_LOG)
def audit_export_csv(request: HttpRequest) -> HttpResponseBase:
    return _export(request, "csv")


@staff_permission_required(VIEW_AUDIT_LOG)
def audit_export_jsonl(request: HttpRequest) -> HttpResponseBase:
    return _export(request, "jsonl")


def _export(request: HttpRequest, kind: str) -> HttpResponseBase:
    """Audit the export (with its filters) first, then stream it."""
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        context = {"form": form, "rows": [], "newer_url": "", "older_url": ""}
        return render(request, "portal/staff/audit.html", context, status=400)
    record_event(
        action=AuditEvent.Action.AUDIT_EXPORTED,
        context=AuditContext.from_request(request),
        detail={"format": kind, "filters": form.described()},
    )
    events = list_events(**form.filters())
    if kind == "csv":
        response = StreamingHttpResponse(csv_stream(events), content_type="text/csv; charset=utf-8")
    else:
        response = StreamingHttpResponse(
            jsonl_stream(events), content_type="application/x-ndjson; charset=utf-8"
        )
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.{kind}"'
    response["Cache-Control"] = "no-store"
    return response


def _row(event: AuditEvent) -> AuditRow:
    reason = event.detail.get("reason", "") if isinstance(event.detail, dict) else ""
    return AuditRow(
        seq=event.seq,
        at=f"{event.created_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC",
        actor=_person(event.actor_repr, event.actor_id) or "Desk Connect",
        action=event.action,
        outcome=event.outcome,
        is_failure=event.outcome == AuditEvent.Outcome.FAILURE,
        grant=shown(event.grant_repr, NAME_LIMIT),
        grant_id=str(event.grant_id or ""),
        owner=_person(event.owner_repr, event.owner_id),
        reason=shown(str(reason), REASON_LIMIT),
        ip_address=str(event.ip_address or ""),
    )


def _person(text: str, user_id: int | None) -> str:
    name = shown(text, NAME_LIMIT)
    if user_id is None:
        return name
    return f"{name} (#{user_id})" if name else f"#{user_id}"


def shown(text: str, limit: int) -> str:
    """``text`` for display: control and invisible characters escaped, cut to ``limit``.

    A name with CR/LF, ANSI escapes or bidi overrides shows as ``\\r``, ``\\x1b``,
    ``\\u202e``; the template escapes HTML on top.
    """
    visible = "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text
    )
    return visible if len(visible) <= limit else visible[: limit - 1] + "…"
