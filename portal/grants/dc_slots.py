"""At most N calls in flight to one Zoho data centre, across every worker.

A slot is a PostgreSQL session advisory lock ``(key, n)`` with ``n`` below the limit: shared by
every worker through the database, released by :func:`release_slot` or at once when the
worker's connection dies. Each purpose (the upkeep's health checks, the migration's
conversions) has its own key per data centre and its own limit from settings.
"""

import time
import zlib
from datetime import timedelta

from django.db import connection

POLL_SECONDS = 0.1


def dc_slot_key(dc: str, *, purpose: str = "portal.upkeep") -> int:
    """The first int4 of a data centre's slot locks for ``purpose`` (the second is the slot)."""
    return zlib.crc32(f"{purpose}.dc.{dc}".encode()) & 0x7FFFFFFF


def take_slot(key: int, *, limit: int) -> int | None:
    """A free slot's number, now held by this connection, or None when all are taken."""
    with connection.cursor() as cursor:
        for slot in range(max(limit, 1)):
            cursor.execute("SELECT pg_try_advisory_lock(%s::int4, %s::int4)", [key, slot])
            if cursor.fetchone()[0]:
                return slot
    return None


def wait_for_slot(key: int, *, limit: int, wait: timedelta) -> int | None:
    """:func:`take_slot`, polling for up to ``wait``; None when none freed up in time."""
    deadline = time.monotonic() + wait.total_seconds()
    while (slot := take_slot(key, limit=limit)) is None:
        if time.monotonic() > deadline:
            return None
        time.sleep(POLL_SECONDS)
    return slot


def release_slot(key: int, slot: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s::int4, %s::int4)", [key, slot])
