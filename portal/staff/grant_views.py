"""Staff pages on grants: the searchable list, one grant with its history, revoke any."""

from uuid import UUID

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.audit import AuditContext
from portal.staff.access import (
    REVOKE_ANY_GRANT,
    VIEW_ALL_GRANTS,
    VIEW_AUDIT_LOG,
    staff_permission_required,
)
from portal.staff.actions import MAX_BATCH, UnknownGrants, grants_to_revoke
from portal.staff.bulk_revocation import (
    recent_revocations,
    revocation_progress,
    start_staff_revocation,
)
from portal.staff.forms import GrantSearchForm, RevokeGrantsForm
from portal.staff.grant_search import HISTORY_SEEK, grant_history_page, grant_page, staff_grant
from portal.staff.paging import page_links, sort_links


@staff_permission_required(VIEW_ALL_GRANTS)
@require_GET
def grants(request: HttpRequest) -> HttpResponse:
    form = GrantSearchForm(request.GET)
    page = grant_page(form.query()) if form.is_valid() else None
    current = (form.cleaned_data.get("sort") if page is not None else None) or "-created"
    can_revoke = request.user.has_perm(REVOKE_ANY_GRANT)
    context = {
        "sort_urls": _sort_urls(request, current),
        "form": form,
        "page": page,
        **page_links(request, page.next_cursor if page is not None else None),
        "can_revoke": can_revoke,
        "max_batch": MAX_BATCH,
        "recent_revocations": recent_revocations() if can_revoke else [],
    }
    return render(request, "portal/staff/grants.html", context, status=200 if page else 400)


def _sort_urls(request: HttpRequest, current: str) -> dict[str, str]:
    """Column-header links: each sorts by its column (again: the other way), from page one."""
    toggles = {
        "owner": "owner",
        "status": "status",
        "refreshed": "last_refreshed" if current == "-last_refreshed" else "-last_refreshed",
        "created": "created" if current == "-created" else "-created",
    }
    return sort_links(request, toggles)


@staff_permission_required(VIEW_ALL_GRANTS)
@require_GET
def grant_detail(request: HttpRequest, grant_id: UUID) -> HttpResponse:
    grant = staff_grant(grant_id)
    if grant is None:
        raise Http404("No such grant.")
    cursor_text = request.GET.get("cursor", "")
    cursor = HISTORY_SEEK.decode(cursor_text) if cursor_text else None
    history = grant_history_page(grant_id, cursor)
    context = {
        "grant": grant,
        "history": history,
        **page_links(request, history.next_cursor),
        "cursor_invalid": bool(cursor_text) and cursor is None,
        "can_revoke": request.user.has_perm(REVOKE_ANY_GRANT) and grant.row.can_revoke,
        "can_view_audit": request.user.has_perm(VIEW_AUDIT_LOG),
    }
    return render(request, "portal/staff/grant_detail.html", context)


@staff_permission_required(REVOKE_ANY_GRANT)
@require_POST
def grants_revoke(request: HttpRequest) -> HttpResponse:
    """First post: confirm the selection and ask for a reason. Confirmed post: start the jobs."""
    form = RevokeGrantsForm(request.POST)
    form.is_valid()
    ids = form.cleaned_data.get("grant")
    context = {"form": form, "targets": [], "missing": []}
    if not ids:
        return render(request, "portal/staff/grants_revoke.html", context, status=400)
    try:
        context["targets"] = grants_to_revoke(ids)
    except UnknownGrants as unknown:
        context["missing"] = unknown.missing
        return render(request, "portal/staff/grants_revoke.html", context, status=400)
    if not form.is_valid() or not form.cleaned_data["confirm"]:
        status = 400 if form.errors else 200
        return render(request, "portal/staff/grants_revoke.html", context, status=status)
    batch_id = start_staff_revocation(
        grant_ids=ids,
        reason=form.cleaned_data["reason"],
        context=AuditContext.from_request(request),
    )
    url = reverse("staff:revocation", kwargs={"revocation_id": batch_id})
    return HttpResponseRedirect(url, status=303)


@staff_permission_required(REVOKE_ANY_GRANT)
@require_GET
def revocation(request: HttpRequest, revocation_id: UUID) -> HttpResponse:
    """A batch revocation's progress; the page reloads itself until every grant is done."""
    progress = revocation_progress(revocation_id)
    if progress is None:
        raise Http404("No such revocation.")
    return render(request, "portal/staff/revocation.html", {"progress": progress})
