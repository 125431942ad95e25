"""User-facing pages: landing, connections, connect and callback, grant detail, health."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.audit import AuditContext
from accounts.models import AuthenticatedHttpRequest, User
from accounts.ratelimit import limit_requests
from portal import health
from portal.csp import allow_zoho_form_targets
from portal.grants import connect, connect_sessions, selectors
from portal.grants.wording import connect_failure
from portal.models import ZohoGrant
from portal.pages.connect_link_views import SESSION_KEY as CONNECT_SESSION_KEY
from portal.pages.forms import CallbackForm, ConnectForm


@login_not_required
def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/landing.html")


@allow_zoho_form_targets
def connections(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(
        request,
        "portal/connections.html",
        {
            "rows": selectors.grant_rows_for_user(request.user),
            "connect_form": ConnectForm(),
            "came_by_link": CONNECT_SESSION_KEY in request.session,
        },
    )


@require_POST
def connect_start(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = ConnectForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose where your Zoho account lives, then connect.")
        return redirect("portal:connections")
    return redirect_to_zoho(request, region=form.cleaned_data["region"])


def redirect_to_zoho(
    request: AuthenticatedHttpRequest, *, region: str, grant: ZohoGrant | None = None
) -> HttpResponse:
    """Start connecting (or reconnecting ``grant``) and send the browser to Zoho."""
    if not request.session.session_key:
        request.session.save()  # the callback is matched to this session's key
    url = connect.start_connect(
        context=AuditContext.from_request(request),
        user=request.user,
        session_key=request.session.session_key or "",
        region=region,
        grant=grant,
    )
    return HttpResponseRedirect(url)


@login_not_required
@require_GET
@never_cache
@limit_requests(("callback", 60, timedelta(minutes=1)), methods=("GET",))
def callback(request: HttpRequest) -> HttpResponse:
    """Zoho's redirect back; always answers with a redirect to a clean URL."""
    user = request.user
    if not isinstance(user, User):  # anonymous: the session ended while on Zoho
        messages.error(
            request, "Your session ended while you were on Zoho. Log in, then connect again."
        )
        return _clean_redirect(reverse("accounts:login"))
    form = CallbackForm.from_query(request.GET)
    if not form.is_valid():
        request.session["connect_failure"] = connect_failure("invalid_callback")
        return _clean_redirect(reverse("portal:connect_failed"))
    try:
        result = connect.finish_connect(
            context=AuditContext.from_request(request),
            user=user,
            session_key=request.session.session_key or "",
            params=form.params(),
        )
    except connect.ConnectFailed as failure:
        if failure.reason == "used":
            messages.info(request, failure.message)
            return _clean_redirect(reverse("portal:connections"))
        if outcome := connect_sessions.outcome_of_failure(failure.reason):
            if back := _back_to_app(request, user, outcome=outcome):
                return _clean_redirect(back)
        request.session["connect_failure"] = failure.message
        return _clean_redirect(reverse("portal:connect_failed"))
    if back := _back_to_app(request, user, outcome="connected", grant=result.grant):
        return _clean_redirect(back)
    if result.merged:  # another tab or a double click connected the same account just now
        messages.info(request, f"Zoho Desk account {result.grant} is connected.")
        return _clean_redirect(reverse("portal:connections"))
    verb = "reconnected" if result.reconnected else "connected"
    messages.success(request, f"Zoho Desk account {result.grant} {verb}.")
    return _clean_redirect(reverse("portal:grant_detail", args=[result.grant.pk]))


def _back_to_app(
    request: HttpRequest, user: User, *, outcome: str, grant: ZohoGrant | None = None
) -> str:
    """The app's return_url when this browser came through a connect link ("" otherwise)."""
    session_id = request.session.pop(CONNECT_SESSION_KEY, None)
    if not session_id:
        return ""
    return connect_sessions.finish_connect_session(
        session_id=str(session_id),
        user=user,
        outcome=outcome,
        grant=grant,
        context=AuditContext.from_request(request),
    )


def _clean_redirect(url: str) -> HttpResponse:
    response = HttpResponseRedirect(url, status=303)
    response.status_code = 303
    response["Referrer-Policy"] = "no-referrer"
    return response


@allow_zoho_form_targets
def connect_failed(request: HttpRequest) -> HttpResponse:
    message = request.session.pop("connect_failure", None)
    if message is None:
        return redirect("portal:connections")
    return render(
        request,
        "portal/connect_failed.html",
        {"message": message, "connect_form": ConnectForm()},
    )


@login_not_required
@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    if health.database_is_up():
        return JsonResponse({"status": "ok", "database": "ok"})
    return JsonResponse({"status": "unavailable", "database": "unavailable"}, status=503)
