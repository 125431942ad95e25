"""DB-06: while PostgreSQL cannot be reached, every answer is a clean, retryable 503.

The outage is real: Django's connection is pointed at a socket directory where no server
listens, so every query fails as it does when the server is down; then it is pointed back.
"""

import json
import logging
from contextlib import AbstractContextManager

import pytest
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path

from accounts.models import User
from portal import urls as portal_urls
from portal import wsgi
from portal.api.keys import create_service_key
from portal.health import DATABASE_RETRY_AFTER_SECONDS
from tests.api_calls import post_token
from tests.conftest import GrantMaker
from tests.database_switch import assert_no_internals, connection_settings
from tests.wsgi_calls import call

pytestmark = pytest.mark.django_db(transaction=True)
NOWHERE = "/nonexistent/desk-connect-no-server-here"


def database_unreachable() -> AbstractContextManager[None]:
    """No server answers at the address the portal connects to."""
    return connection_settings(HOST=NOWHERE, PORT="1")


def _no_internals(body: str) -> None:
    """No SQL, driver message or server address reaches the client."""
    assert_no_internals(body, NOWHERE)


def test_db_06_pages_answer_a_short_503_with_retry_after(alice: User) -> None:
    browser = Client(raise_request_exception=False)
    browser.force_login(alice)
    assert browser.get("/connections/").status_code == 200
    with database_unreachable():
        response = browser.get("/connections/")
    assert response.status_code == 503
    assert response["Retry-After"] == str(DATABASE_RETRY_AFTER_SECONDS)
    page = response.content.decode()
    assert "briefly unavailable" in page
    _no_internals(page)
    assert browser.get("/connections/").status_code == 200  # back by itself


def test_db_06_the_api_answers_a_503_problem_then_recovers(make_grant: GrantMaker) -> None:
    grant = make_grant()
    _, raw = create_service_key(name="outage")
    api = Client(raise_request_exception=False)

    def ask():
        return post_token(api, grant, raw)

    with database_unreachable():
        during = ask()
    assert during.status_code == 503
    assert during["Content-Type"] == "application/problem+json"
    assert during["Retry-After"] == str(DATABASE_RETRY_AFTER_SECONDS)
    assert during["Cache-Control"] == "no-store"
    assert json.loads(during.content)["code"] == "service_unavailable"
    _no_internals(during.content.decode())

    after = ask()
    assert after.status_code == 200
    assert json.loads(after.content)["access_token"] == make_grant.access_token


def test_db_06_the_lean_api_path_answers_a_503_problem_then_recovers(
    make_grant: GrantMaker,
) -> None:
    """The same through portal.wsgi's ``/api/`` path (API_MIDDLEWARE), which production serves."""
    grant = make_grant()
    _, raw = create_service_key(name="outage")
    url = f"/api/v1/grants/{grant.pk}/access-token"
    key = {"Authorization": f"Bearer {raw}"}
    with database_unreachable():
        during = call(wsgi.application, "POST", url, headers=key, body="{}")
    assert during.status == 503
    assert during.header("Content-Type") == "application/problem+json"
    assert during.header("Retry-After") == str(DATABASE_RETRY_AFTER_SECONDS)
    assert during.header("Cache-Control") == "no-store"
    assert during.json()["code"] == "service_unavailable"
    _no_internals(during.body.decode())
    after = call(wsgi.application, "POST", url, headers=key, body="{}")
    assert after.status == 200 and after.json()["access_token"] == make_grant.access_token


def test_db_06_healthz_says_unavailable() -> None:
    with database_unreachable():
        response = Client(raise_request_exception=False).get("/healthz")
    assert response.status_code == 503
    assert json.loads(response.content) == {"status": "unavailable", "database": "unavailable"}


@login_not_required
def _boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a real bug")


urlpatterns = [path("boom/", _boom), *portal_urls.urlpatterns]
handler500 = portal_urls.handler500  # the portal's own, as in production


@pytest.mark.urls("tests.security.test_database_outage")
def test_db_06_an_outage_logs_one_warning_line_per_request_and_a_bug_its_traceback(
    alice: User, make_grant: GrantMaker, caplog: pytest.LogCaptureFixture
) -> None:
    grant = make_grant()
    _, raw = create_service_key(name="outage")
    browser = Client(raise_request_exception=False)
    browser.force_login(alice)
    caplog.set_level(logging.WARNING)
    with database_unreachable():
        answers = [browser.get("/connections/").status_code for _ in range(3)]
        answers.append(
            browser.post(
                f"/api/v1/grants/{grant.pk}/access-token",
                data="{}",
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {raw}",
            ).status_code
        )
    assert answers == [503] * 4
    outage = [(r.levelname, r.exc_info, r.getMessage()) for r in caplog.records]
    assert outage == [
        ("WARNING", None, "database unavailable (OperationalError): GET /connections/ answered 503")
    ] * 3 + [
        (
            "WARNING",
            None,
            f"database unavailable (OperationalError): POST /api/v1/grants/{grant.pk}"
            "/access-token answered 503",
        )
    ]
    assert "Traceback" not in caplog.text

    caplog.clear()
    assert browser.get("/boom/").status_code == 500  # a real bug keeps its traceback
    (bug,) = caplog.records
    assert bug.levelname == "ERROR" and bug.exc_info and bug.exc_info[0] is RuntimeError
