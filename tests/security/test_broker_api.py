"""BR: the token API's credentials and answers (security checklist, section E)."""

import json
from datetime import timedelta

import httpx2
import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEvent
from portal import wsgi
from portal.api.keys import create_service_key, revoke_service_key
from portal.models import TokenIssuance, ZohoGrant
from tests.api_calls import auth, post_token
from tests.wsgi_calls import call


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [None, "Bearer nope", "Basic abc", "Bearer dck_000000000000_" + "x" * 43, "dck_only"],
)
def test_BR_01_requests_without_a_valid_key_get_401_and_no_hint(client, make_grant, header):
    grant = make_grant()
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    for url in (
        f"/api/v1/grants/{grant.pk}",
        "/api/v1/grants/00000000-0000-0000-0000-000000000000",
    ):
        response = client.get(url, **extra)
        assert response.status_code == 401
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "unauthorized"


@pytest.mark.django_db
def test_BR_04_a_logged_in_browser_session_is_not_a_credential(client, make_grant, alice):
    grant = make_grant()
    client.force_login(alice)
    assert client.get(f"/api/v1/grants/{grant.pk}").status_code == 401
    assert post_token(client, grant, "").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_BR_04_on_the_api_path_a_session_cookie_or_csrf_token_changes_nothing(
    make_grant, service_key, alice
):
    """portal.wsgi's ``/api/`` path runs no session or CSRF middleware: a signed-in browser's
    cookies neither authenticate a call nor are needed, and no cookie comes back."""
    grant = make_grant()
    browser = Client()
    browser.force_login(alice)
    session = (
        f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"
    )
    cookies = {"Cookie": f"{session}; {settings.CSRF_COOKIE_NAME}={'c' * 32}"}
    assert call(wsgi.application, "GET", "/connections/", headers=cookies).status == 200  # valid
    url = f"/api/v1/grants/{grant.pk}/access-token"
    for method in ("GET", "POST"):
        path = url.removesuffix("/access-token") if method == "GET" else url
        refused = call(wsgi.application, method, path, headers=cookies, body="{}")
        assert refused.status == 401 and refused.header("Set-Cookie") is None
    key = {"Authorization": f"Bearer {service_key}"}
    plain = call(wsgi.application, "POST", url, headers=key, body="{}")
    browserish = {**key, **cookies, "Origin": "https://evil.example", "X-CSRFToken": "wrong"}
    with_cookies = call(wsgi.application, "POST", url, headers=browserish, body="{}")
    assert plain.status == 200 and plain.json()["access_token"] == make_grant.access_token

    def answer(response):  # each answer has its own request id
        headers = [(name, value) for name, value in response.headers if name != "X-Request-ID"]
        return response.status, headers, response.body

    assert answer(with_cookies) == answer(plain)
    assert with_cookies.header("X-Request-ID") != plain.header("X-Request-ID")
    assert with_cookies.header("Set-Cookie") is None and with_cookies.header("Vary") is None


@pytest.mark.django_db
def test_BR_02_revoked_and_expired_keys_stop_working(client, make_grant):
    grant = make_grant()
    key, raw = create_service_key(name="old")
    assert client.get(f"/api/v1/grants/{grant.pk}", **auth(raw)).status_code == 200
    revoke_service_key(key=key)
    assert client.get(f"/api/v1/grants/{grant.pk}", **auth(raw)).status_code == 401
    key2, raw2 = create_service_key(name="short", expires_in_days=1)
    key2.expires_at = timezone.now() - timedelta(seconds=1)
    key2.save()
    assert client.get(f"/api/v1/grants/{grant.pk}", **auth(raw2)).status_code == 401


@pytest.mark.django_db
def test_BR_03_an_unknown_grant_is_404_with_no_hint(client, service_key):
    response = client.get(
        "/api/v1/grants/00000000-0000-0000-0000-000000000000", **auth(service_key)
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.django_db
def test_BR_09_a_handed_out_token_is_audited_once_without_the_token(
    client, make_grant, service_key
):
    """One issuance record and one audit row per token handed out (caller, grant, owner, time),
    without the token; the same token handed out again to the same caller is the same issuance."""
    grant = make_grant()
    for _ in range(3):
        response = post_token(client, grant, service_key)
        assert response.status_code == 200
        assert response.json()["access_token"] == make_grant.access_token
        assert response["Cache-Control"] == "no-store"
    assert make_grant.refresh_token not in response.content.decode()
    assert TokenIssuance.objects.count() == 1
    events = AuditEvent.objects.filter(action=AuditEvent.Action.TOKEN_ISSUED)
    assert events.count() == 1
    assert make_grant.access_token not in json.dumps(events.get().detail)
    assert events.get().owner_id == grant.user_id  # staff can find it by the grant's owner


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "code"),
    [
        (ZohoGrant.Status.NEEDS_RECONNECT, "needs_reconnect"),
        (ZohoGrant.Status.REVOKING, "revoking"),
        (ZohoGrant.Status.REVOKED, "revoked"),
    ],
)
def test_BR_07_unusable_grants_answer_409_with_a_stable_code(
    client, make_grant, service_key, status, code
):
    grant = make_grant(status=status)
    response = post_token(client, grant, service_key)
    assert response.status_code == 409
    assert response.json()["code"] == code


@pytest.mark.django_db
def test_BR_07_a_deactivated_owners_grant_gets_no_token(client, make_grant, service_key, alice):
    grant = make_grant()
    alice.is_active = False
    alice.save()
    response = post_token(client, grant, service_key)
    assert response.status_code == 409
    assert response.json()["code"] == "user_inactive"


@pytest.mark.django_db(transaction=True)
def test_BR_04_cross_site_browser_requests_get_no_cors_and_no_access(api, live_server, alice):
    _, grant = api
    response = httpx2.post(
        f"{live_server.url}/api/v1/grants/{grant.pk}/access-token",
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 401
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.django_db
def test_BR_06_a_token_comes_only_in_the_body_never_cached_and_never_the_refresh_token(
    client, make_grant, service_key, settings
):
    """The answer holds the access token and what a caller needs to use it; no refresh token,
    no client secret; nothing of the token in a header; ``Cache-Control: no-store``."""
    grant = make_grant()
    response = post_token(client, grant, service_key)
    assert response.status_code == 200
    assert set(response.json()) == {
        "access_token",
        "token_type",
        "expires_at",
        "api_domain",
        "desk_api_base",
        "org_ids",
        "grant_status",
    }
    assert response["Cache-Control"] == "no-store"
    headers = "\n".join(f"{name}: {value}" for name, value in response.items())
    assert make_grant.access_token not in headers
    body = response.content.decode()
    assert make_grant.refresh_token not in body and settings.ZOHO_CLIENT_SECRET not in body


@pytest.mark.django_db
def test_BR_08_two_keys_work_side_by_side_until_the_old_one_is_revoked(client, make_grant):
    """Rotation without downtime: the new key works before the old one stops, and at cut-over
    only the old one stops."""
    grant = make_grant()
    old_key, old_raw = create_service_key(name="backend 2025")
    _, new_raw = create_service_key(name="backend 2026")
    for raw in (old_raw, new_raw):
        assert post_token(client, grant, raw).status_code == 200
    revoke_service_key(key=old_key)
    assert post_token(client, grant, old_raw).status_code == 401
    assert post_token(client, grant, new_raw).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_BR_05_with_api_hosts_set_the_public_host_gets_a_404_for_every_api_path(
    settings, make_grant, service_key
):
    """The public name answers /api/ with 404 whatever the path, key or method; the internal
    name serves it. Both handlers apply the rule: portal.wsgi's lean /api/ path and the full
    stack (Django's test client)."""
    settings.ALLOWED_HOSTS = ["portal.example.com", "api.internal"]
    settings.API_HOSTS = ["api.internal"]
    grant = make_grant()
    key = {"Authorization": f"Bearer {service_key}"}
    url = f"/api/v1/grants/{grant.pk}/access-token"
    for path, method in ((url, "POST"), ("/api/v1/ping", "GET"), ("/api/v1/openapi.json", "GET")):
        public = call(wsgi.application, method, path, headers=key, SERVER_NAME="portal.example.com")
        assert public.status == 404 and public.json()["code"] == "not_found_here", path
        assert b"access_token" not in public.body
    internal = call(
        wsgi.application, "POST", url, headers=key, body="{}", SERVER_NAME="api.internal"
    )
    assert internal.status == 200 and internal.json()["access_token"] == make_grant.access_token
    full_stack = Client(HTTP_HOST="portal.example.com")
    assert full_stack.get("/api/v1/ping").status_code == 404
    assert Client(HTTP_HOST="api.internal").get("/api/v1/ping").status_code == 200
    # Pages stay on the public host.
    assert full_stack.get("/accounts/login/").status_code == 200


def test_BR_05_an_api_host_that_is_not_an_allowed_host_is_refused_at_start_up(settings):
    from portal.checks import check_api_hosts

    settings.ALLOWED_HOSTS = ["portal.example.com", ".internal"]
    settings.API_HOSTS = ["api.internal"]
    assert check_api_hosts() == []
    settings.API_HOSTS = ["api.elsewhere"]
    assert [message.id for message in check_api_hosts()] == ["portal.E026"]
