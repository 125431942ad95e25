"""SC: sessions, CSRF, cookies and framing (security checklist, section B)."""

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse

from tests.cast import EU
from tests.connecting import token_calls

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)
LOGIN = reverse("accounts:login")
LOGOUT = reverse("accounts:logout")
CONNECTIONS = reverse("portal:connections")


def test_SC_07_session_that_ended_during_consent_restarts_cleanly(portal, sandbox):
    callback_url = sandbox.consent(portal.start(), zuid=EU)
    portal.client.logout()
    response = portal.callback(callback_url)
    assert response.status_code == 303
    assert response["Location"] == "/accounts/login/"
    assert token_calls(sandbox) == []


@pytest.mark.parametrize("action", ["test", "refresh", "reconnect", "hide"])
def test_SC_02_grant_actions_refuse_get(portal, connected, action):
    assert portal.client.get(f"/connections/{connected.pk}/{action}/").status_code == 405


@pytest.mark.parametrize("action", ["test", "refresh", "reconnect", "revoke", "hide"])
def test_SC_01_grant_actions_need_a_csrf_token(connected, alice, action, caplog):
    """A post with the session cookie but no CSRF token: 403, the grant unchanged, and the
    refusal logged."""
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    with caplog.at_level(logging.WARNING, logger="django.security.csrf"):
        assert strict.post(f"/connections/{connected.pk}/{action}/").status_code == 403
    connected.refresh_from_db()
    assert connected.status == "active"
    assert [r for r in caplog.records if r.name == "django.security.csrf"]


@pytest.mark.django_db
def test_SC_04_login_changes_session_key(client, alice, password):
    client.get(LOGIN)
    client.session["planted"] = True
    before = client.session.session_key
    client.post(LOGIN, {"username": "alice@example.com", "password": password})
    assert client.session.session_key != before


@pytest.mark.django_db
def test_SC_05_logout_by_post_ends_the_session(client, alice):
    client.force_login(alice)
    response = client.post(LOGOUT)
    assert response.status_code == 302
    assert client.get(CONNECTIONS).status_code == 302


@pytest.mark.django_db
def test_SC_05_a_session_cookie_replayed_after_logout_reaches_the_login_page(client, alice):
    """Logging out ends the session on the server: the old cookie, replayed from a copy, signs
    nobody in."""
    client.force_login(alice)
    stolen = client.cookies[settings.SESSION_COOKIE_NAME].value
    client.post(LOGOUT)
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = stolen
    response = replay.get(CONNECTIONS)
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)


@pytest.mark.django_db
def test_SC_05_logout_by_get_is_refused(client, alice):
    client.force_login(alice)
    assert client.get(LOGOUT).status_code == 405
    assert client.get(CONNECTIONS).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_SC_08_owner_pages_and_the_admin_refuse_to_be_framed(client, alice, staff, make_grant):
    """The dashboard, the revoke confirmation and the admin all forbid framing by anyone."""
    grant = make_grant()
    client.force_login(alice)
    owner_pages = [CONNECTIONS, f"/connections/{grant.pk}/revoke/"]
    admin = Client()
    admin.force_login(staff)
    answers = [client.get(url) for url in owner_pages] + [admin.get("/admin/login/")]
    for response in answers:
        assert response.status_code in (200, 302), response.status_code
        assert response["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


COUNT_IN_ANOTHER_PROCESS = """
import os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
from django.conf import settings
settings.DATABASES["default"]["NAME"] = sys.argv[1]
import django
django.setup()
from datetime import timedelta
from accounts.ratelimit import allow
print(sum(allow("sc-10:shared", limit=5, window=timedelta(days=1)) for _ in range(5)))
"""


@pytest.mark.django_db(transaction=True)
def test_SC_10_a_rate_limit_is_shared_by_every_process():
    """Two processes, five hits each, a limit of five: five pass in all, not five per process
    (the counter lives in PostgreSQL, not in a worker's memory)."""
    arguments = [sys.executable, "-c", COUNT_IN_ANOTHER_PROCESS, connection.settings_dict["NAME"]]
    processes = [
        subprocess.Popen(
            arguments, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=90) for process in processes]
    assert all(process.returncode == 0 for process in processes), outputs
    allowed = [int(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert sum(allowed) == 5, allowed


def test_SC_02_a_revoke_posted_from_a_foreign_origin_is_refused(connected, alice, settings):
    """A form on evil.example posts revoke with the victim's cookies (and even a valid token):
    403 for the foreign ``Origin``, and the grant is untouched. No foreign origin is trusted."""
    assert settings.CSRF_TRUSTED_ORIGINS == []  # by default only the site's own origin passes
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    strict.get(CONNECTIONS)
    token = {"csrfmiddlewaretoken": strict.cookies[settings.CSRF_COOKIE_NAME].value}
    url = f"/connections/{connected.pk}/revoke/"
    assert strict.post(url, token, headers={"Origin": "https://evil.example"}).status_code == 403
    connected.refresh_from_db()
    assert connected.status == "active"
    assert strict.post(url, token, headers={"Origin": "http://testserver"}).status_code != 403
