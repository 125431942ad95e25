"""DP-04, DP-05, DP-07 and the cookie flags: what every answer carries, as a browser sees it.

These read the answers (headers, cookies, error pages), not the settings, so a setting that is
dropped or a middleware that is removed fails here.
"""

import pytest
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path

from accounts.models import User
from portal import urls as portal_urls
from portal import wsgi
from tests.cast import PASSWORD
from tests.conftest import GrantMaker
from tests.wsgi_calls import Answer, call

pytestmark = pytest.mark.django_db


def _csp(response: object) -> dict[str, str]:
    header = response["Content-Security-Policy"]  # type: ignore[index]
    directives = [part.strip() for part in header.split(";") if part.strip()]
    return {name: rest for name, _, rest in (part.partition(" ") for part in directives)}


def test_DP_04_every_page_carries_the_content_security_policy(client: Client) -> None:
    for url in ("/", "/accounts/login/", "/accounts/signup/"):
        policy = _csp(client.get(url))
        assert policy["default-src"] == "'self'"
        assert policy["script-src"].split()[0] == "'self'"
        assert "unsafe" not in policy["script-src"]
        assert policy["object-src"] == "'none'"
        assert policy["base-uri"] == "'none'"
        assert policy["frame-ancestors"] == "'none'"
        assert policy["form-action"] == "'self'"


def test_DP_04_only_the_connect_pages_may_post_on_to_zoho(client: Client, alice: User) -> None:
    client.force_login(alice)
    form_action = _csp(client.get("/connections/"))["form-action"].split()
    assert form_action[0] == "'self'"
    assert form_action[1:] and all(origin.startswith("http") for origin in form_action[1:])


def test_DP_07_security_headers_on_pages_and_api(client: Client, alice: User) -> None:
    client.force_login(alice)
    for response in (client.get("/connections/"), client.get("/api/v1/grants")):
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        assert "no-store" in response["Cache-Control"]
    assert client.get("/connections/")["X-Frame-Options"] == "DENY"


def _answer(answer: Answer, *, drop: frozenset[str] = frozenset()) -> tuple[object, ...]:
    headers = sorted((name, value) for name, value in answer.headers if name not in drop)
    return answer.status, headers, answer.body


@pytest.mark.django_db(transaction=True)
def test_DP_07_the_api_path_sends_every_header_the_full_stack_sends(
    make_grant: GrantMaker, service_key: str
) -> None:
    """The lean ``/api/`` path answers as the full middleware stack did, header for header,
    minus ``Vary: Cookie``: the full stack consults the session on every answer, the lean
    path has none, and its answers do not vary by cookie."""
    grant = make_grant()
    full_stack = WSGIHandler()  # MIDDLEWARE for every path, as portal.wsgi served before
    key = {"Authorization": f"Bearer {service_key}"}
    unknown = "00000000-0000-0000-0000-000000000000"
    requests = [
        ("POST", f"/api/v1/grants/{grant.pk}/access-token", key, "{}"),  # the hot path
        ("POST", f"/api/v1/grants/{grant.pk}/access-token", key, "[nope"),  # 400
        ("GET", f"/api/v1/grants/{grant.pk}/access-token", key, ""),  # 405
        ("GET", f"/api/v1/grants/{grant.pk}", key, ""),
        ("GET", "/api/v1/grants", key, ""),
        ("GET", f"/api/v1/grants/{grant.pk}", {}, ""),  # 401
        ("GET", f"/api/v1/grants/{unknown}", key, ""),  # 404 problem
        ("GET", "/api/v1/no-such-endpoint", {}, ""),  # Django's 404 page
        ("GET", "/api/v1/openapi.json", {}, ""),
        ("GET", "/api/v1/ping", {}, ""),
    ]
    statuses = []
    for method, url, headers, body in requests:
        lean = call(wsgi.application, method, url, headers=headers, body=body)
        full = call(full_stack, method, url, headers=headers, body=body)
        assert full.header("Vary") == "Cookie" and lean.header("Vary") is None
        # Each answer has its own request id; both have one.
        assert lean.header("X-Request-ID") and full.header("X-Request-ID")
        own = frozenset({"X-Request-ID"})
        assert _answer(lean, drop=own) == _answer(full, drop=own | {"Vary"}), url
        statuses.append(lean.status)
    assert statuses == [200, 400, 405, 200, 200, 401, 404, 404, 200, 200]
    token = call(wsgi.application, *requests[0][:2], headers=key, body="{}")
    for name, value in [
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
        ("Cache-Control", "no-store"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    ]:
        assert token.header(name) == value
    assert "default-src 'self'" in (token.header("Content-Security-Policy") or "")


def test_SC_03_session_and_csrf_cookies_are_httponly_samesite_and_secure(
    client: Client, alice: User
) -> None:
    login_page = client.get("/accounts/login/")
    csrf = login_page.cookies[settings.CSRF_COOKIE_NAME]
    assert csrf["samesite"] == "Lax" and csrf["secure"]
    response = client.post(
        "/accounts/login/", {"username": alice.email, "password": PASSWORD}, secure=True
    )
    assert response.status_code == 302
    session = response.cookies[settings.SESSION_COOKIE_NAME]
    assert session["httponly"] and session["secure"]
    assert session["samesite"] == "Lax"


@login_not_required
def _boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug with SELECT secret_column FROM somewhere")


urlpatterns = [path("boom/", _boom), *portal_urls.urlpatterns]
handler500 = portal_urls.handler500  # the portal's own, as in production


@pytest.mark.urls("tests.security.test_deployment_headers")
def test_DP_05_500_is_the_branded_page_without_internals() -> None:
    response = Client(raise_request_exception=False).get("/boom/")
    assert response.status_code == 500
    page = response.content.decode()
    assert "Desk Connect" in page and "Something went wrong on our side" in page
    for leak in ("RuntimeError", "Traceback", "SELECT", "secret_column", "settings"):
        assert leak not in page


@pytest.mark.parametrize(
    ("url", "status"),
    [("/no-such-page/", 404), ("/staff/", 404)],
)
def test_DP_05_404_is_the_branded_page(client: Client, alice: User, url: str, status: int) -> None:
    client.force_login(alice)
    response = client.get(url)
    assert response.status_code == status
    page = response.content.decode()
    assert "Desk Connect" in page and "Traceback" not in page


def test_DP_05_400_from_a_bad_host_is_generic(client: Client) -> None:
    response = client.get("/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    page = response.content.decode()
    assert "Desk Connect" in page and "The request could not be understood" in page
    assert "evil.example" not in page and "ALLOWED_HOSTS" not in page


def test_dp_05_403_is_the_branded_page(client: Client, make_user) -> None:
    """Staff without the audit permission are refused with the portal's own 403 page."""
    client.force_login(make_user("helpdesk@example.com", is_staff=True))
    response = client.get("/staff/audit/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "Desk Connect" in page and "You are not allowed to do that" in page
    assert "Traceback" not in page


def test_dp_05_a_failed_csrf_check_is_the_branded_403(alice: User) -> None:
    """Django's own CSRF page (unbranded, it explains cookies and settings) is replaced."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    response = browser.post("/accounts/logout/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "Desk Connect" in page and "That form could not be accepted" in page
    for leak in ("CSRF verification failed", "CSRF_", "settings.py", "Referer"):
        assert leak not in page
