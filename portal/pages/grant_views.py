"""Pages and actions on one grant; every lookup is scoped to the signed-in owner."""

from uuid import UUID

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts.audit import AuditContext
from accounts.models import AuthenticatedHttpRequest
from portal.csp import allow_zoho_form_targets
from portal.grants import selectors, tokens
from portal.grants.checkup import check_connection
from portal.grants.revocation import RevokeOutcome, revoke_grant
from portal.grants.status import grant_row, minutes_text
from portal.grants.wording import refusal_message
from portal.pages.views import redirect_to_zoho


@allow_zoho_form_targets
def grant_detail(request: AuthenticatedHttpRequest, grant_id: UUID) -> HttpResponse:
    grant = selectors.grant_for_user(
        request.user, grant_id, context=AuditContext.from_request(request)
    )
    context = {
        "row": selectors.grant_detail_row(grant),
        "history": selectors.grant_history(grant=grant, viewer_id=request.user.pk),
    }
    return render(request, "portal/grant_detail.html", context)


@require_POST
def grant_test(request: AuthenticatedHttpRequest, grant_id: UUID) -> HttpResponse:
    grant = selectors.grant_for_user(
        request.user, grant_id, context=AuditContext.from_request(request)
    )
    result = check_connection(grant_id=grant.pk, actor=request.user)
    (messages.success if result.ok else messages.error)(request, result.message)
    return redirect("portal:grant_detail", grant.pk)


@require_POST
def grant_refresh(request: AuthenticatedHttpRequest, grant_id: UUID) -> HttpResponse:
    grant = selectors.grant_for_user(
        request.user, grant_id, context=AuditContext.from_request(request)
    )
    try:
        issued = tokens.force_refresh(grant_id=grant.pk)
    except tokens.RefreshTooSoon as error:
        messages.info(request, refusal_message(error.code, retry_after=error.retry_after or 1))
    except tokens.GrantError as error:
        messages.error(request, refusal_message(error.code))
    else:
        left = minutes_text((issued.expires_at - timezone.now()).total_seconds())
        verb = "Refreshed" if issued.refreshed else "Already refreshed moments ago"
        messages.success(request, f"{verb}: the access token is valid {left}.")
    return redirect("portal:grant_detail", grant.pk)


@require_POST
def grant_reconnect(request: AuthenticatedHttpRequest, grant_id: UUID) -> HttpResponse:
    grant = selectors.grant_for_user(
        request.user, grant_id, context=AuditContext.from_request(request)
    )
    region = "cn" if grant.data_centre == "cn" else "global"
    return redirect_to_zoho(request, region=region, grant=grant)


@require_http_methods(["GET", "POST"])
def grant_revoke(request: AuthenticatedHttpRequest, grant_id: UUID) -> HttpResponse:
    grant = selectors.grant_for_user(
        request.user, grant_id, context=AuditContext.from_request(request)
    )
    row = grant_row(grant, now=timezone.now())
    if request.method == "GET" or not row.can_revoke:
        return render(request, "portal/grant_revoke.html", {"row": row})
    outcome = revoke_grant(grant_id=grant.pk, context=AuditContext.from_request(request))
    if outcome == RevokeOutcome.REVOKED:
        messages.success(request, "Revoked. Zoho confirmed, and the stored tokens were deleted.")
    else:
        messages.warning(
            request,
            "Revoking: no token is handed out any more, but Zoho did not confirm yet. "
            "We will keep trying in the background.",
        )
    return redirect("portal:grant_detail", grant.pk)


@require_POST
def grant_hide(request: AuthenticatedHttpRequest, grant_id: UUID) -> HttpResponse:
    grant = selectors.grant_for_user(
        request.user, grant_id, context=AuditContext.from_request(request)
    )
    # Hiding has always been audited with the owner only, no address or user agent.
    if selectors.hide_grant(grant=grant, context=AuditContext(actor=request.user)):
        messages.success(request, "Removed from your list. Its history is kept.")
    else:
        messages.error(request, "Only revoked connections can be removed from the list.")
    return redirect("portal:connections")
