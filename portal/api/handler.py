"""The API's own WSGI path: Django's request handling with ``API_MIDDLEWARE``, for ``/api/``.

A backend calling with a service key needs none of what a browser needs (sessions, CSRF,
messages, users, log-in redirects), and each of those costs time on the token hot path. So
requests whose path starts with ``/api/`` are answered by a second ``WSGIHandler`` whose
middleware chain is built from ``settings.API_MIDDLEWARE`` instead of ``MIDDLEWARE``; every
other request goes to the site's own handler and its full stack. Both share Django's URLconf,
error handlers (``handler500`` answers ``/api/`` with a problem document), request signals
(which look after the database connection) and exception handling.
"""

from collections.abc import Iterable
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

API_PREFIX = "/api/"


class ApiHandler(WSGIHandler):
    """A ``WSGIHandler`` whose middleware is ``settings.API_MIDDLEWARE``."""

    def load_middleware(self, is_async: bool = False) -> None:
        """Django's own loader, reading ``API_MIDDLEWARE`` where it reads ``MIDDLEWARE``.

        ``BaseHandler.load_middleware`` takes the list from ``settings.MIDDLEWARE`` and from
        nowhere else, so the setting is swapped for the duration of the call. That happens
        once, when the handler is built at start-up, before any request is served.
        """
        site_middleware = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.API_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = site_middleware


class PathDispatcher:
    """Send ``/api/`` to the API's handler and everything else to the site's."""

    def __init__(self, *, site: WSGIApplication, api: WSGIApplication) -> None:
        self.site = site
        self.api = api

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        # PATH_INFO is what Django resolves and what handler500 looks at (``path_info``).
        is_api = environ.get("PATH_INFO", "").startswith(API_PREFIX)
        return (self.api if is_api else self.site)(environ, start_response)


def dispatching(site: WSGIApplication) -> PathDispatcher:
    """``site`` (Django's full handler) for pages, an ``ApiHandler`` for ``/api/``."""
    return PathDispatcher(site=site, api=ApiHandler())
