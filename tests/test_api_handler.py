"""portal/wsgi.py: ``/api/`` takes the lean path (``API_MIDDLEWARE``), the rest the full stack.

The full stack's mark on any answer below 500 is ``Vary: Cookie``: the session was consulted
(``NoStoreForAuthenticatedMiddleware`` asks who the user is). The lean path has no session, so
its answers never carry it.
"""

from collections.abc import Callable, Iterator

import httpx2
import pytest
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import get_internal_wsgi_application
from django.http import HttpRequest, HttpResponse
from django.test.testcases import LiveServerThread

from portal import wsgi
from portal.api import urls as api_urls
from portal.api.handler import PathDispatcher, dispatching
from tests.wsgi_calls import call

pytestmark = pytest.mark.django_db(transaction=True)


class Stamp:
    """A middleware that marks every answer it sees, to show which chain ran."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response["X-Stamp"] = "seen"
        return response


@pytest.mark.parametrize(
    "path", ["/connections/", "/staff/", "/admin/", "/accounts/login/", "/sandbox/control/settings"]
)
def test_pages_staff_admin_and_sandbox_get_the_full_stack(path: str) -> None:
    answer = call(wsgi.application, "GET", path)
    assert answer.status in (200, 302)
    assert answer.header("Vary") == "Cookie"
    if answer.status == 302:  # LoginRequiredMiddleware, or the admin's own log-in
        assert "login" in (answer.header("Location") or "")


def test_the_log_in_page_still_gets_its_csrf_cookie() -> None:
    answer = call(wsgi.application, "GET", "/accounts/login/")
    assert "csrftoken=" in (answer.header("Set-Cookie") or "")


@pytest.mark.parametrize(
    ("path", "lean"),
    [
        ("/api/v1/ping", True),
        ("/api/no-such-endpoint", True),
        ("/api", False),
        ("/apix/", False),
        ("/API/v1/ping", False),
        ("/connections/api/", False),
    ],
)
def test_only_paths_under_api_take_the_lean_path(path: str, lean: bool) -> None:
    answer = call(wsgi.application, "GET", path)
    assert answer.status < 500
    assert (answer.header("Vary") is None) is lean


def test_a_bad_host_is_refused_on_the_api_path_too() -> None:
    answer = call(wsgi.application, "GET", "/api/v1/ping", SERVER_NAME="evil.example")
    assert answer.status == 400
    assert b"evil.example" not in answer.body


def test_one_entry_in_api_middleware_runs_on_the_api_path_only(settings) -> None:
    """What another middleware (a request id, say) needs on both paths: one entry per list."""
    site_middleware = list(settings.MIDDLEWARE)
    settings.API_MIDDLEWARE = [*settings.API_MIDDLEWARE, "tests.test_api_handler.Stamp"]
    application = dispatching(WSGIHandler())
    assert settings.MIDDLEWARE == site_middleware  # the loader's swap is undone
    assert call(application, "GET", "/api/v1/ping").header("X-Stamp") == "seen"
    assert call(application, "GET", "/accounts/login/").header("X-Stamp") is None


def test_every_api_view_decides_for_itself_who_may_call_it() -> None:
    """LoginRequiredMiddleware does not run on the lean path: an API view must say it needs
    no log-in (``service_api`` does, after checking the key), or it would be open to all."""
    views = {pattern.name: pattern.callback for pattern in api_urls.urlpatterns}
    assert views and all(getattr(view, "login_required", True) is False for view in views.values())
    assert views.keys() - {"openapi", "ping"} == {
        "grant_list",
        "grant_detail",
        "access_token",
        "grant_revoke",
        "connect_session_create",
        "desk_proxy",
        "webhooks",
        "webhook_delete",
        "webhook_secret",
    }


@pytest.fixture
def served() -> Iterator[str]:
    """runserver's way of loading the application (``WSGI_APPLICATION``) behind Django's
    threaded server, on a real socket."""
    application = get_internal_wsgi_application()
    # Django calls the second argument with its own handler; here it hands back ours instead.
    server = LiveServerThread("127.0.0.1", lambda _: application)  # type: ignore[arg-type]
    server.daemon = True
    server.start()
    server.is_ready.wait()
    assert server.error is None
    yield f"http://127.0.0.1:{server.port}"
    server.terminate()


def test_the_served_application_is_the_dispatcher(served: str) -> None:
    assert settings.WSGI_APPLICATION == "portal.wsgi.application"
    assert isinstance(get_internal_wsgi_application(), PathDispatcher)
    api = httpx2.get(f"{served}/api/v1/ping", timeout=10)
    page = httpx2.get(f"{served}/accounts/login/", timeout=10)
    assert api.status_code == page.status_code == 200
    assert "vary" not in api.headers and page.headers["vary"] == "Cookie"


def test_the_desk_proxy_streams_through_the_lean_path(served: str, desk_api, sandbox) -> None:
    """The Desk proxy answers with a ``StreamingHttpResponse``; under the API's own handler
    (what gunicorn serves) Desk's answer arrives whole, with Desk's length, and the lean
    path's marks (no session, so no ``Vary: Cookie``), and it is counted for /metrics."""
    client, grant = desk_api
    proxy = f"{served}/api/v1/grants/{grant.pk}/desk"
    headers = {"Authorization": f"Bearer {client.raw_key}"}
    sandbox.add_fault("oversized", endpoint="desk_tickets", size=2 * 1024 * 1024, count=1)
    before = _proxy_calls("GET", "desk_2xx")
    with httpx2.stream("GET", f"{proxy}/tickets", headers=headers, timeout=20) as answer:
        chunks = [chunk for chunk in answer.iter_raw() if chunk]
        assert answer.status_code == 200
        assert answer.headers["content-length"] == str(2 * 1024 * 1024)
        assert answer.headers["cache-control"] == "no-store"
        assert "vary" not in answer.headers and "set-cookie" not in answer.headers
    assert sum(len(chunk) for chunk in chunks) == 2 * 1024 * 1024 and len(chunks) > 1
    assert _proxy_calls("GET", "desk_2xx") == before + 1


def _proxy_calls(method: str, outcome: str) -> float:
    from portal.observe.metrics import DESK_PROXY_CALLS

    for family in DESK_PROXY_CALLS.collect():
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.labels == {
                "method": method,
                "outcome": outcome,
            }:
                return sample.value
    return 0.0
