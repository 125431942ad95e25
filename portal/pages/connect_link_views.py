"""The link the app's backend hands its customer (``/connect/s/<secret>/``).

GET only explains (mail scanners fetch links; a GET must never use one up); the POST from
that page signs the customer in and starts the connect step. Someone else signed in in this
browser is asked before the session switches. The session key changes on sign-in (Django's
``login``), and the connect session's id rides in the new session until the callback ends
the connection (``portal.pages.views.callback``).
"""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from accounts.audit import AuditContext
from accounts.models import AuthenticatedHttpRequest, User
from accounts.ratelimit import limit_requests
from portal.grants import connect_sessions

SESSION_KEY = "connect_session"
GONE = {
    "unknown": "This link is not valid. Ask the app for a new one.",
    "used": "This link was already used. For your safety it works only once: ask the app for "
    "a new one. Nobody was signed in.",
    "expired": "This link has expired. Ask the app for a new one. Nobody was signed in.",
}


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
@limit_requests(("connect-link", 60, timedelta(minutes=1)), methods=("GET", "POST"))
@sensitive_variables("secret")
def connect_link(request: HttpRequest, secret: str) -> HttpResponse:
    context = AuditContext.from_request(request)
    link = connect_sessions.look_at_link(secret=secret, context=context)
    if link is None or link.reason:
        return _gone(request, link.reason if link else "unknown")
    signed_in = request.user if isinstance(request.user, User) else None
    other = signed_in is not None and signed_in.pk != link.user_id
    if request.method == "GET" or (other and request.POST.get("switch") != "yes"):
        return _page(request, other_email=signed_in.email if signed_in and other else "")
    try:
        session, user = connect_sessions.use_link(secret=secret, context=context)
    except connect_sessions.LinkUnusable as refused:
        return _gone(request, refused.reason)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session[SESSION_KEY] = str(session.pk)
    messages.info(request, "You are signed in. Connect your Zoho Desk account to finish.")
    return redirect("portal:connections")


@require_POST
def connect_link_cancel(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The customer who came through a link decides not to connect: back to the app with
    ``outcome=cancelled`` (or to the connections page when the app gave no return_url)."""
    session_id = request.session.pop(SESSION_KEY, None)
    back = ""
    if session_id:
        back = connect_sessions.finish_connect_session(
            session_id=str(session_id),
            user=request.user,
            outcome=connect_sessions.Outcome.CANCELLED,
            grant=None,
            context=AuditContext.from_request(request),
        )
    return redirect(back) if back else redirect("portal:connections")


def _page(request: HttpRequest, *, other_email: str) -> HttpResponse:
    response = render(request, "portal/connect_link.html", {"other_email": other_email})
    # The URL holds the secret: never sent to another site ("no-referrer" would make the
    # form post's Origin "null", which CSRF protection refuses).
    response["Referrer-Policy"] = "same-origin"
    return response


def _gone(request: HttpRequest, reason: str) -> HttpResponse:
    response = render(
        request, "portal/connect_link_gone.html", {"message": GONE[reason]}, status=410
    )
    response["Referrer-Policy"] = "same-origin"
    return response
