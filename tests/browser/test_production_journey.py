"""The production profile as a customer meets it: Chromium, a TLS-terminating proxy, gunicorn.

deploy/production.env.example plus generated secrets (tests/production.py), static files
collected, ``gunicorn -c deploy/gunicorn.conf.py portal.wsgi`` with ``LOG_FORMAT=json``, and in
front of it a real HTTPS proxy set up as the runbook's nginx (tests/tls_proxy.py) connecting
from 127.0.0.2, the one trusted proxy. The browser reaches the portal only through the proxy,
at https://localhost:<port> (``ALLOWED_HOSTS=localhost``: the test certificate's name).
"""

import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM, SKIP_REASON, TIMEOUT_MS, VIEWPORT, take_screenshot
from tests.production import Gunicorn, gunicorn, manage, production_environment
from tests.tls_front import make_certificates
from tests.tls_proxy import TlsProxy

# gunicorn writes to this run's test database (audit rows of a failed log-in): each test is
# transactional, so the tables are emptied after it and no later test meets those rows.
pytestmark = pytest.mark.django_db(transaction=True)

PROXY_SOURCE = "127.0.0.2"


@dataclass
class Stack:
    server: Gunicorn
    proxy: TlsProxy


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Stack]:
    if not CHROMIUM.exists():
        pytest.skip(SKIP_REASON)
    static_root = tmp_path_factory.mktemp("static")
    env = production_environment(
        STATIC_ROOT=str(static_root),
        TRUSTED_PROXIES=PROXY_SOURCE,
        ALLOWED_HOSTS="portal.example.com,localhost",  # the example's, and the certificate's name
        LOG_FORMAT="json",
    )
    collected = manage(env, "collectstatic", "--noinput")
    assert collected.returncode == 0, collected.stderr
    certificates = make_certificates(tmp_path_factory.mktemp("tls"))
    cert, key = certificates.chains["good"]
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    with (
        gunicorn(env, log) as server,
        TlsProxy(server.base_url, cert, key, source=PROXY_SOURCE) as p,
    ):
        yield Stack(server, p)


@pytest.fixture(scope="module")
def customer(stack, django_db_blocker) -> Iterator[tuple[str, str]]:
    from accounts.models import User

    email, password = f"prod-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(16)
    with django_db_blocker.unblock():
        user = User.objects.create_user(email, password)
    yield email, password
    with django_db_blocker.unblock():
        User.objects.filter(pk=user.pk).delete()  # gone already if a test's flush came first


@pytest.fixture
def tab(browser, stack):
    """A fresh context on the proxy's https address; CSP violations are collected."""
    violations: list[str] = []
    context = browser.new_context(
        base_url=stack.proxy.url(), viewport=VIEWPORT, ignore_https_errors=True
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.expose_function("__reportCspViolation", lambda violation: violations.append(violation))
    context.add_init_script(
        'document.addEventListener("securitypolicyviolation", e =>'
        " window.__reportCspViolation(e.violatedDirective + ' ' + e.blockedURI));"
    )
    page = context.new_page()
    yield page
    context.close()
    assert violations == []


def _styled(page) -> bool:
    """The page's own stylesheet loaded and applied (not the browser's defaults)."""
    return bool(
        page.evaluate(
            "() => [...document.styleSheets].some(s => s.href && s.href.includes('/static/')"
            " && s.cssRules.length > 0)"
        )
    )


def test_a_customer_signs_in_through_the_tls_proxy_and_every_page_is_styled(
    stack, customer, tab, django_db_blocker
):
    email, password = customer
    tab.goto("/accounts/login/")
    assert tab.url.startswith("https://localhost:")
    assert _styled(tab)
    take_screenshot(tab, "production-login")
    tab.fill("input[name=username]", email)
    tab.fill("input[name=password]", "not the password")
    tab.get_by_role("button", name="Log in").click()
    tab.wait_for_selector("text=/correct email|not correct|Please enter/i")
    tab.fill("input[name=password]", password)
    tab.get_by_role("button", name="Log in").click()
    tab.wait_for_url(re.compile(r"/connections/$"))
    assert tab.url.startswith("https://localhost:")  # every redirect stayed on https
    assert _styled(tab)
    take_screenshot(tab, "production-connections")
    tab.goto("/accounts/profile/")
    assert _styled(tab)
    cookies = {cookie["name"]: cookie for cookie in tab.context.cookies()}
    assert cookies["__Host-sessionid"]["secure"] and cookies["__Host-sessionid"]["httpOnly"]

    from accounts.models import AuditEvent

    with django_db_blocker.unblock():
        failures = list(
            AuditEvent.objects.filter(
                action=AuditEvent.Action.USER_LOGIN_FAILED, detail__email=email
            ).values_list("ip_address", "request_id")
        )
    assert failures
    for ip_address, request_id in failures:
        # The browser's address (127.0.0.1), from X-Forwarded-For, not the proxy's (127.0.0.2),
        # and the id the proxy gave the request, kept end to end.
        assert ip_address == "127.0.0.1"
        assert request_id in stack.proxy.request_ids


def test_every_log_line_is_json_and_access_lines_carry_the_client_and_the_request_id(stack, tab):
    tab.goto("/accounts/login/")
    stack.server.get("/healthz")  # the access line is written after the answer: one more
    lines = [line for line in Path(stack.server.log).read_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # gunicorn's own lines included
    assert {"time", "level", "logger", "message", "request_id"} <= set(entries[0])
    assert any(
        e["logger"] == "gunicorn.error" and "Booting worker" in e["message"] for e in entries
    )
    page_lines = [e for e in entries if '"GET /accounts/login/ HTTP/1.1" 200' in e["message"]]
    assert page_lines and page_lines[-1]["request_id"] in stack.proxy.request_ids
    # The browser's address, not the proxy's: the same rule as the audit rows and rate limits.
    assert page_lines[-1]["message"].startswith("127.0.0.1 ")
