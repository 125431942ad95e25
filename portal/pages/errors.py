"""The pages people see when a request fails on our side."""

import sys

from django.http import HttpRequest, HttpResponse
from django.template import loader

from portal import health


def server_error(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After while the database is out (logged as one warning line), else
    the branded 500 page.

    Rendered without the request's context: the context processors would ask the database
    (the session, the user) that just failed.
    """
    error = sys.exc_info()[1]
    if error is not None and health.is_database_outage(error):
        response = HttpResponse(loader.get_template("503.html").render(), status=503)
        response["Retry-After"] = str(health.DATABASE_RETRY_AFTER_SECONDS)
        health.answered_outage(request, response, error)
        return response
    return HttpResponse(loader.get_template("500.html").render(), status=500)
