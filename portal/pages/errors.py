"""The pages people see when a request fails on our side."""

import sys

from django.http import HttpRequest, HttpResponse
from django.template import loader

from portal import health


def server_error(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After while the database is out, else the branded 500 page.

    Rendered without the request's context: the context processors would ask the database
    (the session, the user) that just failed.
    """
    if health.is_database_outage(sys.exc_info()[1]):
        response = HttpResponse(loader.get_template("503.html").render(), status=503)
        response["Retry-After"] = str(health.DATABASE_RETRY_AFTER_SECONDS)
        return response
    return HttpResponse(loader.get_template("500.html").render(), status=500)
