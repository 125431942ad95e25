"""Liveness of what the portal depends on, answered within about a second."""

from typing import Any

import psycopg
from django.db import connections

DATABASE_TIMEOUT_SECONDS = 1


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
