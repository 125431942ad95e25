"""``make chaos`` (2), the web side: a person connects over HTTP through gunicorn, and the
gunicorn worker serving Zoho's callback is SIGKILLed while the code exchange waits on the
sandbox. Then the person tries again, as they would after an error page."""

import os
import re
import secrets
import signal
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx2
import psutil

from bench import servers

ZUID = "20000001"  # a seeded sandbox user (EU)
_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass(frozen=True)
class CallbackOutcome:
    killed: bool
    reconnected: bool
    connected: int  # grant rows the person's connections added
    story: str
    note: str


def kill_mid_callback(base: servers.Stack, *, latency: float, kill_after: float) -> CallbackOutcome:
    from portal.models import ZohoGrant

    portal = servers.start_portal(base.env, base.portal_port, "sync")
    try:
        browser = _signed_in(portal.base_url)
        callback = _consent(browser, base)
        base.control.add_fault("latency", endpoint="token", seconds=latency, count=1)
        answer: list[str] = []
        request = threading.Thread(target=lambda: answer.append(_get(browser, callback)))
        request.start()
        time.sleep(kill_after)
        victim = _worker_talking_to(portal, base.sandbox.base_url)
        if victim is not None:
            os.kill(victim, signal.SIGKILL)
        request.join()
        time.sleep(latency)  # the sandbox finishes the exchange it was holding
        after_kill = ZohoGrant.objects.filter(zoho_user_id=ZUID).count()
        retry = _get(browser, _consent(browser, base))
        active = ZohoGrant.objects.filter(zoho_user_id=ZUID, status="active").count()
    finally:
        portal.stop()
        browser.close()
    story = (
        f"worker {'killed' if victim else 'NOT FOUND'} during the exchange; the browser got "
        f"{answer[0] if answer else 'nothing'}; {after_kill} grant rows after the kill; "
        f"the person connected again: {retry}, {active} active grant"
    )
    note = (
        "Mid-callback: the sandbox, like Zoho, completes a code exchange whose caller died, "
        "so it issues a refresh token the portal never received; no one can revoke it by "
        "value (Zoho's cap of 20 live tokens per user and client evicts it eventually)."
    )
    return CallbackOutcome(victim is not None, active == 1, active, story, note)


def _signed_in(base_url: str) -> httpx2.Client:
    """A browser with a session of a new user (made as Django's test client makes one)."""
    from django.conf import settings
    from django.test import Client

    from accounts.models import User

    user = User.objects.create_user("chaos@example.com", secrets.token_urlsafe(24))
    django_client = Client()
    django_client.force_login(user)
    session = django_client.cookies[settings.SESSION_COOKIE_NAME].value
    browser = httpx2.Client(base_url=base_url, timeout=30, follow_redirects=False)
    browser.cookies.set(settings.SESSION_COOKIE_NAME, session)
    return browser


def _consent(browser: httpx2.Client, base: servers.Stack) -> str:
    """Press Connect, consent on the sandbox; the callback's path and query."""
    page = browser.get("/connections/")
    token = _CSRF_INPUT.search(page.text)
    if page.status_code != 200 or token is None:
        raise RuntimeError(f"no connect form on /connections/ (HTTP {page.status_code})")
    started = browser.post(
        "/connections/connect/", data={"region": "global", "csrfmiddlewaretoken": token.group(1)}
    )
    if started.status_code != 302:
        raise RuntimeError(f"connect did not redirect to Zoho: HTTP {started.status_code}")
    parts = urlsplit(base.control.consent(started.headers["location"], zuid=ZUID))
    return f"{parts.path}?{parts.query}"


def _get(browser: httpx2.Client, path: str) -> str:
    try:
        response = browser.get(path)
    except httpx2.HTTPError as error:
        return type(error).__name__
    where = urlsplit(response.headers.get("location", "")).path
    return f"HTTP {response.status_code}{f' to {where}' if where else ''}"


def _worker_talking_to(portal: servers.Service, url: str) -> int | None:
    """The gunicorn worker with a connection open to ``url``'s port (the exchange)."""
    port = urlsplit(url).port
    for worker in psutil.Process(portal.process.pid).children():
        try:
            if any(getattr(c.raddr, "port", None) == port for c in worker.net_connections("tcp")):
                return worker.pid
        except psutil.Error:
            continue
    return None
