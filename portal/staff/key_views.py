"""Staff page for the token API's service keys: list, create (shown once), revoke."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import AuthenticatedHttpRequest
from portal.api.keys import create_service_key, revoke_service_key
from portal.models import ServiceKey
from portal.staff.access import MANAGE_SERVICE_KEYS, staff_permission_required
from portal.staff.forms import ServiceKeyForm

LIST_LIMIT = 200


@staff_permission_required(MANAGE_SERVICE_KEYS)
@require_http_methods(["GET", "POST"])
@never_cache
@sensitive_variables("raw_key")
def keys(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The keys, newest first, and the creation form; a created key is shown on this answer only."""
    form = ServiceKeyForm(request.POST if request.method == "POST" else None)
    raw_key = None
    created = None
    if request.method == "POST" and form.is_valid():
        created, raw_key = create_service_key(
            name=form.cleaned_data["name"],
            created_by=request.user,
            expires_in_days=form.cleaned_data["expires_in_days"],
        )
        form = ServiceKeyForm()
    listed = list(
        ServiceKey.objects.select_related("created_by")
        .only(
            "id",
            "name",
            "prefix",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
            "created_by__email",
        )
        .order_by("-created_at", "-id")[: LIST_LIMIT + 1]
    )
    context = {
        "form": form,
        "keys": listed[:LIST_LIMIT],
        "more": len(listed) > LIST_LIMIT,
        "created": created,
        "raw_key": raw_key,
    }
    status = 400 if form.errors else (201 if created else 200)
    return render(request, "portal/staff/keys.html", context, status=status)


@staff_permission_required(MANAGE_SERVICE_KEYS)
@require_POST
def key_revoke(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(ServiceKey, pk=pk)
    if key.revoked_at is not None:
        messages.info(request, f"{key} was already revoked.")
    else:
        revoke_service_key(key=key, actor=request.user)
        messages.success(request, f"{key} was revoked; the token API refuses it from now on.")
    return redirect("staff:keys")
