"""Liveness of what the portal depends on, answered within about a second."""

import logging
from typing import Any

import psycopg
from django.db import InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger("portal.health")

DATABASE_TIMEOUT_SECONDS = 1
# What an answer during a database outage tells the client to wait before trying again.
DATABASE_RETRY_AFTER_SECONDS = 5


def database_is_up() -> bool:
    """Open a fresh connection with a one-second budget and run ``SELECT 1``.

    A fresh connection (not Django's persistent one) tells whether the server answers now.
    """
    params: dict[str, Any] = dict(connections["default"].get_connection_params())
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params["connect_timeout"] = DATABASE_TIMEOUT_SECONDS
    params["options"] = f"-c statement_timeout={DATABASE_TIMEOUT_SECONDS * 1000}"
    try:
        with psycopg.connect(**params) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


def is_database_outage(error: BaseException | None) -> bool:
    """Whether an unhandled error means PostgreSQL could not be reached or went away.

    Connection refused, the server shutting down, a connection that broke mid-request or a
    pool with no connection to give: all retryable, so callers answer 503, not 500.
    """
    return isinstance(error, OperationalError | InterfaceError | psycopg.OperationalError)


def answered_outage(request: HttpRequest, response: HttpResponse, error: BaseException) -> None:
    """Log a request answered 503 for a database outage as one warning line, no traceback.

    During an outage every request fails the same way: the operator needs a steady signal,
    not thousands of identical tracebacks burying everything else. Django would log the
    response as an error with the traceback; ``django.utils.log.log_response`` skips a
    response already marked as logged, so a real 500 still gets its traceback.
    """
    logger.warning(
        "database unavailable (%s): %s %s answered 503",
        type(error).__name__,
        request.method,
        request.path,
    )
    response._has_been_logged = True  # type: ignore[attr-defined]  # Django's own marker
