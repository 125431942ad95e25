"""DP-01, DP-02, DP-03, SC-03 as production runs: deploy/production.env.example plus generated
secrets, static files collected, gunicorn with deploy/gunicorn.conf.py behind a proxy.

The proxy is played by requests from 127.0.0.2 (``TRUSTED_PROXIES``) carrying
``X-Forwarded-Proto: https``, as a TLS-terminating proxy sends them; requests from 127.0.0.1 are
a client that reached gunicorn directly.
"""

import json
import os
import re
import secrets
from collections.abc import Iterator

import httpx2
import pytest
from django.core.checks import Error

from portal import checks
from tests.environment import TEST_ENVIRONMENT
from tests.production import (
    EXAMPLE,
    HOST,
    ROOT,
    Gunicorn,
    database_url_of_this_run,
    gunicorn,
    manage,
    production_environment,
)

# gunicorn shares this run's test database, which pytest-django creates only for a run holding
# at least one test that asks for a database: this module on its own must be such a run. Each
# test runs in a transaction rolled back after it; what gunicorn must see (the signed-in user)
# is made by module fixtures, before and outside those transactions.
pytestmark = pytest.mark.django_db

PROXY = "127.0.0.2"
STYLESHEET = re.compile(r'<link rel="stylesheet" href="(/static/[^"]+)"')
HASHED = re.compile(r"\.[0-9a-f]{12}\.css$")
PUBLIC_PAGES = ("/", "/accounts/login/", "/accounts/signup/", "/accounts/password/reset/")
A_YEAR = 365 * 24 * 3600


def _max_age(header: str) -> int:
    found = re.search(r"max-age=(\d+)", header)
    assert found, header
    return int(found.group(1))


def _ids(output: str) -> set[str]:
    return set(re.findall(r"\(([a-z_]+\.[EW]\d{3})\)", output))


def test_DP_01_check_deploy_is_clean_with_the_production_example_and_real_secrets(
    django_db_setup,
):
    result = manage(production_environment(), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_DP_01_the_checks_refuse_development_defaults_with_debug_off():
    """The suite's own (development-like) settings with DEBUG off fail, naming each default:
    the sandbox, http Zoho URLs and redirect URI, the console mail backend, the portal's
    loopback address, the localhost sender, webhooks to private networks, plain static names
    and Django's own HTTPS warnings. (The embedded database is the next test's: here it would
    start a server.)"""
    env = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    env |= {**TEST_ENVIRONMENT, "DEBUG": "0", "DATABASE_URL": database_url_of_this_run()}
    result = manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    expected = {
        "sandbox.E001",
        "portal.E004",
        "portal.E005",
        "portal.E021",
        "portal.E022",
        "portal.E024",
        "portal.E030",
        "portal.W020",
        "mail.E001",
        "security.W004",
        "security.W008",
    }
    assert expected <= _ids(result.stderr), result.stderr


def test_DP_01_the_embedded_database_is_refused_with_debug_off(settings):
    settings.DEBUG = False
    settings.DATABASE_URL = "postgres://deskconnect@db.example.com/deskconnect"
    assert "portal.E020" not in {m.id for m in checks.check_production_defaults()}
    settings.DATABASE_URL = ""
    assert "portal.E020" in {m.id for m in checks.check_production_defaults()}


def test_DP_01_a_secret_left_as_the_example_placeholder_is_refused(settings):
    settings.DEBUG = False
    settings.ZOHO_CLIENT_SECRET = secrets.token_hex(21)
    assert not [m for m in checks.check_production_defaults() if m.id == "portal.E023"]
    settings.ZOHO_CLIENT_SECRET = checks.PLACEHOLDER
    settings.ZOHO_DC_CLIENT_SECRETS = {**settings.ZOHO_DC_CLIENT_SECRETS, "eu": "REPLACE_ME"}
    refused = [m for m in checks.check_production_defaults() if m.id == "portal.E023"]
    assert len(refused) == 1 and isinstance(refused[0], Error)
    assert "ZOHO_CLIENT_SECRET" in refused[0].msg and "ZOHO_EU_CLIENT_SECRET" in refused[0].msg


def test_DP_01_the_example_leaves_secrets_as_placeholders_and_names_only_real_settings():
    text = EXAMPLE.read_text()
    values = dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    for name in ("SECRET_KEY", "TOKEN_ENCRYPTION_KEYS", "ZOHO_CLIENT_SECRET"):
        assert values[name] == checks.PLACEHOLDER, name
    for name in ("DATABASE_URL", "EMAIL_URL"):
        assert f":{checks.PLACEHOLDER}@" in values[name], name
    readers = (ROOT / "portal" / "settings.py").read_text()
    readers += (ROOT / "deploy" / "gunicorn.conf.py").read_text()
    unread = [name for name in values if f'"{name}"' not in readers]
    assert unread == []


@pytest.fixture(scope="module")
def production(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Gunicorn]:
    """collectstatic, then gunicorn; the trusted proxy is 127.0.0.2."""
    static_root = tmp_path_factory.mktemp("static")
    env = production_environment(STATIC_ROOT=str(static_root), TRUSTED_PROXIES=PROXY)
    collected = manage(env, "collectstatic", "--noinput")
    assert collected.returncode == 0, collected.stderr
    assert list(static_root.glob("css/*.css.gz")), "no compressed copies"
    with gunicorn(env, tmp_path_factory.mktemp("gunicorn") / "gunicorn.log") as server:
        yield server


def test_collectstatic_then_gunicorn_serves_every_page_with_its_hashed_stylesheet(production):
    for page in PUBLIC_PAGES:
        response = production.get(page, via=PROXY, https=True)
        assert response.status_code == 200, page
        sheets = STYLESHEET.findall(response.text)
        assert sheets, f"{page} names no stylesheet"
        for sheet in sheets:
            assert HASHED.search(sheet), sheet
            served = production.get(sheet, via=PROXY, https=True)
            assert served.status_code == 200, sheet
            assert served.headers["Content-Type"].startswith("text/css")
            assert served.headers["Content-Encoding"] == "gzip"
            cache = served.headers["Cache-Control"]
            assert _max_age(cache) >= A_YEAR and "public" in cache, cache


def test_DP_02_hsts_is_sent_for_a_year_with_subdomains_and_preload(production):
    response = production.get("/", via=PROXY, https=True)
    hsts = response.headers["Strict-Transport-Security"]
    assert _max_age(hsts) >= A_YEAR
    assert "includeSubDomains" in hsts and "preload" in hsts


def test_DP_03_a_forwarded_proto_is_believed_only_from_the_trusted_proxy(production):
    """From the proxy the page is served over "https"; the same claim straight from a client
    is ignored: plain http is redirected to https and gets no HSTS."""
    assert production.get("/accounts/login/", via=PROXY, https=True).status_code == 200
    forged = production.get("/accounts/login/", via="127.0.0.1", https=True)
    assert forged.status_code == 301
    assert forged.headers["Location"] == f"https://{HOST}/accounts/login/"
    assert "Strict-Transport-Security" not in forged.headers


@pytest.fixture(scope="module")
def signed_in(production, django_db_blocker) -> Iterator[tuple[str, str]]:
    """Log in through the proxy; the CSRF and session ``Set-Cookie`` values it answered."""
    from accounts.models import User

    password = secrets.token_urlsafe(16)
    with django_db_blocker.unblock():
        user = User.objects.create_user("prod-cookie@example.com", password)
    transport = httpx2.HTTPTransport(local_address=PROXY)
    headers = {"Host": HOST, "X-Forwarded-Proto": "https", "Origin": f"https://{HOST}"}
    try:
        with httpx2.Client(transport=transport, base_url=production.base_url) as browser:
            page = browser.get("/accounts/login/", headers=headers)
            csrf = page.headers["Set-Cookie"]
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
            assert token
            # The proxy speaks https to the browser; on this plain-http hop the client keeps
            # Secure cookies to itself, so the cookie is sent as the proxy would pass it on.
            answer = browser.post(
                "/accounts/login/",
                headers=headers
                | {"Referer": f"https://{HOST}/accounts/login/", "Cookie": _pair(csrf)},
                data={
                    "csrfmiddlewaretoken": token.group(1),
                    "username": user.email,
                    "password": password,
                },
            )
            assert answer.status_code == 302, answer.text
            session = next(c for c in answer.headers.get_list("Set-Cookie") if "sessionid=" in c)
        yield csrf, session
    finally:
        with django_db_blocker.unblock():
            user.delete()


def _pair(set_cookie: str) -> str:
    return set_cookie.split(";", 1)[0]


def test_SC_03_production_cookies_carry_the_host_prefix(signed_in):
    """__Host- cookies: Secure, Path=/ and no Domain, so neither plain http nor a sibling
    subdomain can set or overwrite them."""
    csrf, session = signed_in
    assert csrf.startswith("__Host-csrftoken=") and session.startswith("__Host-sessionid=")
    for cookie in (csrf, session):
        attributes = [part.strip().lower() for part in cookie.split(";")]
        assert "secure" in attributes and "path=/" in attributes
        assert not [a for a in attributes if a.startswith("domain=")]
    assert "httponly" in [part.strip().lower() for part in session.split(";")]


def test_signed_in_pages_are_served_with_their_hashed_stylesheet_too(production, signed_in):
    _, session = signed_in
    for page in ("/connections/", "/accounts/profile/"):
        response = production.get(page, via=PROXY, https=True, cookie=_pair(session))
        assert response.status_code == 200, page
        for sheet in STYLESHEET.findall(response.text) or ["no stylesheet"]:
            assert HASHED.search(sheet), sheet
            assert production.get(sheet, via=PROXY, https=True).status_code == 200


def test_the_access_log_goes_through_the_apps_log_with_secrets_redacted(production):
    code = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
    reset_token = f"{secrets.token_hex(3)}-{secrets.token_hex(16)}"
    production.get(f"/connections/callback/?code={code}&state=s3cr3t", via=PROXY, https=True)
    production.get(f"/accounts/password/reset/MQ/{reset_token}/", via=PROXY, https=True)
    production.get("/healthz")  # the access line is written after the answer: wait for one more
    text = production.log.read_text()
    messages = [json.loads(line)["message"] for line in text.splitlines() if line.strip()]
    assert any(
        '"GET /connections/callback/?code=[redacted]&state=[redacted] HTTP/1.1"' in m
        for m in messages
    )
    assert any('"GET /accounts/password/reset/[redacted]/ HTTP/1.1"' in m for m in messages)
    assert code not in text and "s3cr3t" not in text and reset_token not in text
