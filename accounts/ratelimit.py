"""Fixed-window rate limits counted in PostgreSQL, so they hold across processes and machines.

One atomic upsert per check (``INSERT … ON CONFLICT … DO UPDATE … RETURNING``); old windows
are swept now and then by the same call.
"""

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone

from accounts.client_address import client_address
from accounts.models import RateCounter

_UPSERT = """
INSERT INTO accounts_ratecounter (key, window_start, hits) VALUES (%s, %s, 1)
ON CONFLICT (key, window_start) DO UPDATE SET hits = accounts_ratecounter.hits + 1
RETURNING hits
"""
SWEEP_CHANCE = 0.01


def _window_start(now: datetime, window: timedelta) -> datetime:
    seconds = int(window.total_seconds())
    return datetime.fromtimestamp(int(now.timestamp()) // seconds * seconds, tz=now.tzinfo)


def allow(key: str, *, limit: int, window: timedelta) -> bool:
    """Count one hit on ``key``; False once more than ``limit`` hits fell in this window."""
    return hit(key, window=window) <= limit


def hit(key: str, *, window: timedelta) -> int:
    """Count one hit on ``key`` and return the hits of this window so far, this one included."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT, [key[:200], _window_start(now, window)])
        hits: int = cursor.fetchone()[0]
    if random.random() < SWEEP_CHANCE:  # noqa: S311
        RateCounter.objects.filter(window_start__lt=now - timedelta(days=1)).delete()
    return hits


def hits_so_far(key: str, *, window: timedelta) -> int:
    """The hits on ``key`` in this window, counting nothing."""
    start = _window_start(timezone.now(), window)
    counter = RateCounter.objects.filter(key=key[:200], window_start=start)
    return counter.values_list("hits", flat=True).first() or 0


def seconds_left(window: timedelta) -> int:
    """Seconds until this window of ``window`` ends (at least 1)."""
    now = timezone.now()
    return max(1, int((_window_start(now, window) + window - now).total_seconds()))


def client_ip(request: HttpRequest) -> str:
    """The client's address for a rate-limit key (``accounts.client_address`` decides it)."""
    return client_address(request) or "unknown"


def too_many(request: HttpRequest, *, retry_after: int = 60) -> HttpResponse:
    minutes = -(-retry_after // 60)
    wait = "a minute" if minutes <= 1 else f"{minutes} minutes"
    response = render(request, "429.html", {"wait": wait}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def limit_requests[Response: HttpResponseBase](
    *rules: tuple[str, int, timedelta], methods: tuple[str, ...] = ("POST",)
) -> Callable[[Callable[..., Response]], Callable[..., Response | HttpResponse]]:
    """Decorate a view: each rule is (name, limit, window), counted per client IP."""

    def decorate(view: Callable[..., Response]) -> Callable[..., Response | HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Response | HttpResponse:
            if request.method in methods:
                ip = client_ip(request)
                for name, limit, window in rules:
                    if not allow(f"{name}:ip:{ip}", limit=limit, window=window):
                        return too_many(request)
            return view(request, *args, **kwargs)

        return wrapped

    return decorate
