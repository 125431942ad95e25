"""Log-in throttling that counts failures only, per account and per client address.

A successful log-in never uses up the budget, so a crowd behind one NAT or proxy is not locked
out by its own sign-ins; an attacker's wrong passwords fill two buckets: the account's (so
guesses spread over many addresses still stop) and the address's (so one address cannot try
every account). Past either limit a log-in is refused until the window ends, even with the
right password, with the same answer whether or not the account exists.

Counting happens on Django's ``user_login_failed`` signal, which ``authenticate()`` sends for
the site login and the admin login alike; :func:`throttle_login` refuses before the password
is checked. The check and the count are separate statements, so requests already in flight
when a bucket fills may each add one more failure.
"""

import hashlib
import logging
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

from accounts import ratelimit
from accounts.audit import AuditContext, record_event
from accounts.models import AuditEvent, User

logger = logging.getLogger("accounts.login")


def throttle_login[Response: HttpResponseBase](
    view: Callable[..., Response],
) -> Callable[..., Response | HttpResponse]:
    """Decorate a log-in view: a POST for a locked account or from a locked address gets 429."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Response | HttpResponse:
        if request.method == "POST":
            window = _window()
            keys = _keys(request.POST.get("username", ""), request)
            if any(ratelimit.hits_so_far(key, window=window) >= limit for key, limit in keys):
                return ratelimit.too_many(request, retry_after=ratelimit.seconds_left(window))
        return view(request, *args, **kwargs)

    return wrapped


def count_login_failure(
    sender: object,
    credentials: dict[str, Any],
    request: HttpRequest | None = None,
    **kwargs: Any,
) -> None:
    """``user_login_failed`` receiver: count the failure in both buckets and audit it.

    The audit row names the attempted email when it is an account's; any other text is kept
    as a digest, since people do type a password into the email field.
    """
    email = _normalized(str(credentials.get("username") or ""))
    window = _window()
    with transaction.atomic():
        full = [ratelimit.hit(key, window=window) >= limit for key, limit in _keys(email, request)]
        known = User.objects.filter(email__iexact=email).exists() if email else False
        reason = "wrong email or password"
        if any(full):
            minutes = int(window.total_seconds()) // 60
            reason += f"; log-in locked for up to {minutes} minutes"
        record_event(
            action=AuditEvent.Action.USER_LOGIN_FAILED,
            context=_context(request),
            outcome=AuditEvent.Outcome.FAILURE,
            detail={"reason": reason}
            | ({"email": email} if known else {"email_digest": _digest(email)[:16]}),
        )
    logger.warning("log-in failed from %s", _context(request).ip_address or "unknown address")


def _keys(email: str, request: HttpRequest | None) -> list[tuple[str, int]]:
    """The buckets one attempt falls in, each with its limit."""
    account = _digest(_normalized(email))
    keys = [(f"login-failed:account:{account}", int(settings.LOGIN_FAILURES_PER_ACCOUNT))]
    if request is not None:
        address = ratelimit.client_ip(request)
        keys.append((f"login-failed:address:{address}", int(settings.LOGIN_FAILURES_PER_ADDRESS)))
    return keys


def _context(request: HttpRequest | None) -> AuditContext:
    if request is None:
        return AuditContext()
    full = AuditContext.from_request(request)
    return AuditContext(ip_address=full.ip_address, user_agent=full.user_agent)  # no actor


def _window() -> timedelta:
    return timedelta(minutes=int(settings.LOGIN_FAILURE_WINDOW_MINUTES))


def _normalized(email: str) -> str:
    return email.strip().lower()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
