"""Liveness of what the portal depends on, answered within about a second."""

from typing import Any

import psycopg
from django.db import InterfaceError, OperationalError, connections

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
