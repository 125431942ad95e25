"""Point the test's own database connection somewhere else for a while, then back.

The outage tests use it to reach no server at all, the exhaustion tests to connect as a role
with a connection limit: the portal's code then meets the failure on its real connection.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connections


@contextmanager
def connection_settings(**overrides: Any) -> Iterator[None]:
    """The default connection reconnects with ``overrides`` (HOST, PORT, USER …) inside."""
    connection = connections["default"]
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(overrides)
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


def assert_no_internals(body: str, *more: str) -> None:
    """No driver message, traceback or SQL reaches the client (nor any of ``more``)."""
    for leak in ("psycopg", "OperationalError", "Traceback", "SELECT", "FATAL", *more):
        assert leak not in body
