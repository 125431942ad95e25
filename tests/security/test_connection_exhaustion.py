"""DB-09: PostgreSQL has no connection left to give; answers are fast, clean 503s, never 500s.

The exhaustion is real: the portal connects as a role with ``CONNECTION LIMIT 2`` (a
superuser, as the test role is, is exempt from such limits) and the test holds that role's
connections itself, so the portal's next connect is refused with PostgreSQL's "too many
connections". Everything is put back afterwards, the role dropped. Latency under load belongs
in bench/, not here.
"""

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from typing import Any

import psycopg
import pytest
from django.db import connection, connections
from django.test import Client

from accounts.models import User
from portal.api.keys import create_service_key
from portal.health import DATABASE_RETRY_AFTER_SECONDS, is_database_outage
from tests.api_calls import post_token
from tests.conftest import GrantMaker
from tests.database_switch import assert_no_internals, connection_settings

pytestmark = pytest.mark.django_db(transaction=True)
ROLE = f"desk_connect_pool_test_{os.getpid()}"  # roles are per server, not per database
LIMIT = 2


@pytest.fixture
def limited_role() -> Iterator[dict[str, Any]]:
    """A role that may hold at most ``LIMIT`` connections, with the app's table rights."""
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {ROLE} LOGIN CONNECTION LIMIT {LIMIT}")
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {ROLE}")
        cursor.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {ROLE}"
        )
        cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {ROLE}")
    params = dict(connection.get_connection_params())
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params["user"] = ROLE
    yield params
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", [ROLE]
        )
        cursor.execute(f"DROP OWNED BY {ROLE}")
        cursor.execute(f"DROP ROLE {ROLE}")


def portal_connects_as(role: str) -> AbstractContextManager[None]:
    """The portal's connection logs in as ``role`` (no password: the embedded server trusts)."""
    return connection_settings(USER=role, PASSWORD="")


def _no_internals(body: str) -> None:
    assert_no_internals(body, "too many", "connections for role", ROLE)


def test_DB_09_no_connection_left_gives_clean_503s_then_service_resumes(
    limited_role, make_grant: GrantMaker, alice: User
) -> None:
    grant = make_grant()
    _, raw = create_service_key(name="exhaustion")
    api = Client(raise_request_exception=False)
    browser = Client(raise_request_exception=False)
    browser.force_login(alice)

    def ask():
        return post_token(api, grant, raw)

    with ExitStack() as held, portal_connects_as(ROLE):
        for _ in range(LIMIT - 1):
            held.enter_context(psycopg.connect(**limited_role))
        assert ask().status_code == 200  # the role works while a connection is left
        connection.close()
        last = held.enter_context(psycopg.connect(**limited_role))
        with pytest.raises(psycopg.OperationalError) as refused:
            psycopg.connect(**limited_role)  # the server really has none left for the role
        assert "too many connections" in str(refused.value) and is_database_outage(refused.value)

        during = ask()
        assert during.status_code == 503
        assert during["Content-Type"] == "application/problem+json"
        assert during["Retry-After"] == str(DATABASE_RETRY_AFTER_SECONDS)
        assert json.loads(during.content)["code"] == "service_unavailable"
        _no_internals(during.content.decode())

        page = browser.get("/connections/")
        assert page.status_code == 503
        assert page["Retry-After"] == str(DATABASE_RETRY_AFTER_SECONDS)
        assert "briefly unavailable" in page.content.decode()
        _no_internals(page.content.decode())

        last.close()  # one connection comes free: service resumes by itself
        # The server counts a closed connection's backend until that process has exited, a
        # moment after close() returns: the next callers may still meet the limit, then not.
        deadline = time.monotonic() + 30
        while (after := ask()).status_code == 503 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert after.status_code == 200
        assert json.loads(after.content)["access_token"] == make_grant.access_token
        assert browser.get("/connections/").status_code == 200


def test_DB_09_callers_beyond_the_connection_limit_get_503s_never_500s(
    limited_role, make_grant: GrantMaker
) -> None:
    """Three times as many callers as connections, all at once, each on its own connection
    (as gunicorn threads would be): exactly as many as fit are served, the rest get 503."""
    grant = make_grant()
    _, raw = create_service_key(name="crowd")
    callers = LIMIT * 3
    start, done = threading.Barrier(callers), threading.Barrier(callers)
    statuses: list[int] = []

    def call() -> None:
        try:
            start.wait(timeout=30)
            response = Client(raise_request_exception=False).post(
                f"/api/v1/grants/{grant.pk}/access-token",
                data="{}",
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {raw}",
            )
            statuses.append(response.status_code)
            done.wait(timeout=30)  # every caller keeps its connection until all have asked
        finally:
            connections.close_all()

    with portal_connects_as(ROLE):
        threads = [threading.Thread(target=call) for _ in range(callers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert sorted(statuses) == [200] * LIMIT + [503] * (callers - LIMIT)
