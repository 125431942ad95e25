"""Response headers the whole portal shares."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers


class NoStoreForAuthenticatedMiddleware:
    """Pages for a signed-in user are never cached: after log-out, Back shows nothing.

    Error answers (5xx) are left alone: they hold nothing of the user's and are not cached
    by default, and asking who the user is would ask the database again; during an outage
    that is a second failure, a second error answer and a second log line for one request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code >= 500:
            return response
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            add_never_cache_headers(response)
        return response
