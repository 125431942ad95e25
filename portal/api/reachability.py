"""BR-05: the API answers only on the hosts it is meant for (``API_HOSTS``).

A deployment that serves the backend's API on an internal name (``api.internal``, reached over
a private network) and the customers' pages on a public one sets ``API_HOSTS`` to the internal
names: ``/api/`` on any other host then answers 404, as if nothing were there, whatever the
public proxy forwards. Empty (the default) serves the API on every allowed host. The rule runs
in both middleware lists, so neither handler (the lean ``/api/`` path, the full stack behind
Django's test client) can skip it.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.request import split_domain_port

from portal.api import problems
from portal.api.handler import API_PREFIX


class ApiHostsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(API_PREFIX) and not serves_api(request):
            return problems.problem("not_found_here", 404)
        return self.get_response(request)


def serves_api(request: HttpRequest) -> bool:
    """Whether this request's host may reach the API (always, when ``API_HOSTS`` is empty)."""
    hosts = settings.API_HOSTS
    if not hosts:
        return True
    domain, _port = split_domain_port(request.get_host())  # get_host: an ALLOWED_HOSTS name
    return domain in {name.lower() for name in hosts}
