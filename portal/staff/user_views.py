"""Staff pages on portal users: the list with grant counts, deactivate and reactivate, and
the app's external id (which only staff and the API set)."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.audit import AuditContext
from accounts.deactivation import DeactivationRefused, deactivate_user, reactivate_user
from accounts.external_ids import ExternalIdError, set_external_id
from accounts.models import AuthenticatedHttpRequest, User
from portal.staff.access import MANAGE_USERS, staff_permission_required
from portal.staff.forms import ExternalIdForm, UserActionForm, UserSearchForm
from portal.staff.paging import page_links
from portal.staff.user_search import USER_SEEK, user_page


@staff_permission_required(MANAGE_USERS)
@require_GET
def users(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = UserSearchForm(request.GET)
    page = None
    if form.is_valid():
        cursor_text = form.cleaned_data["cursor"]
        cursor = USER_SEEK.decode(cursor_text) if cursor_text else None
        if cursor_text and cursor is None:
            form.add_error("cursor", "This page link is not valid; start from the first page.")
        else:
            page = user_page(q=form.cleaned_data["q"], cursor=cursor, viewer_id=request.user.pk)
    context = {
        "form": form,
        "page": page,
        **page_links(request, page.next_cursor if page is not None else None),
    }
    return render(request, "portal/staff/users.html", context, status=200 if page else 400)


def _user_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Show the reason form (first post, or an invalid one); on a confirmed post, act."""
    user = get_object_or_404(User.objects.only("id", "email", "is_active"), pk=pk)
    form = UserActionForm(request.POST)
    if request.POST.get("confirm") != "1" or not form.is_valid():
        shown = form if request.POST.get("confirm") == "1" else UserActionForm()
        context = {"target": user, "form": shown, "action": action}
        return render(
            request, "portal/staff/user_action.html", context, status=400 if shown.errors else 200
        )
    act = deactivate_user if action == "deactivate" else reactivate_user
    try:
        changed = act(
            user_id=user.pk,
            reason=form.cleaned_data["reason"],
            context=AuditContext.from_request(request),
        )
    except DeactivationRefused as refused:
        messages.error(request, str(refused))
        return redirect("staff:users")
    done = "deactivated; their sessions were ended" if action == "deactivate" else "reactivated"
    if changed:
        messages.success(request, f"{user.email} was {done}.")
    else:
        messages.info(request, f"{user.email} was already {action}d; nothing changed.")
    return redirect("staff:users")


@staff_permission_required(MANAGE_USERS)
@require_POST
def user_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    return _user_action(request, pk, "deactivate")


@staff_permission_required(MANAGE_USERS)
@require_POST
def user_reactivate(request: HttpRequest, pk: int) -> HttpResponse:
    return _user_action(request, pk, "reactivate")


@staff_permission_required(MANAGE_USERS)
def user_external_id(request: HttpRequest, pk: int) -> HttpResponse:
    """Show and set (audited) the app's external id of one user."""
    user = get_object_or_404(User.objects.only("id", "email", "external_id"), pk=pk)
    form = ExternalIdForm(
        request.POST if request.method == "POST" else None,
        initial={"external_id": user.external_id or ""},
    )
    if request.method == "POST" and form.is_valid():
        wanted = form.cleaned_data["external_id"] or None
        try:
            changed = set_external_id(
                user=user, external_id=wanted, context=AuditContext.from_request(request)
            )
        except ExternalIdError as refused:
            form.add_error("external_id", refused.message)
        else:
            if changed:
                messages.success(request, f"The external id of {user.email} was saved.")
            return redirect("staff:users")
    status = 400 if form.errors else 200
    context = {"target": user, "form": form}
    return render(request, "portal/staff/user_external_id.html", context, status=status)
