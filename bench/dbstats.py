"""What the portal did in its database during a load, from PostgreSQL's own statistics.

A backend publishes its counters at most once a second while busy, and always when it
exits. So a snapshot is taken when this reader's connection is the only one left on the
database (the portal's workers stopped, the bench's Django connection closed): the counters
are then complete. With autocommit every statement is its own transaction, so the number of
transactions is the number of statements (an ``atomic`` block counts once).
"""

import time
from dataclasses import dataclass
from typing import Any

import psycopg


@dataclass(frozen=True)
class Activity:
    transactions: int  # committed or rolled back, this reader's own left out
    rows_written: int  # inserted + updated + deleted, all tables
    audit_events: int  # rows in accounts_auditevent
    issuances: int  # rows in portal_tokenissuance

    def __sub__(self, other: "Activity") -> "Activity":
        return Activity(
            self.transactions - other.transactions,
            self.rows_written - other.rows_written,
            self.audit_events - other.audit_events,
            self.issuances - other.issuances,
        )


class StatsReader:
    """A connection of its own to the portal's database that reads its statistics."""

    def __init__(self, uri: str) -> None:
        self.connection = psycopg.connect(uri, autocommit=True)
        self.statements = 0  # this reader's own, subtracted from the counts

    def close(self) -> None:
        self.connection.close()

    def _one(self, query: str) -> tuple[Any, ...]:
        row = self.connection.execute(query).fetchone()
        self.statements += 1
        assert row is not None
        return tuple(row)

    def snapshot(self, timeout: float = 20.0) -> Activity:
        """The counters once every other backend on the database has gone."""
        deadline = time.monotonic() + timeout
        while self._one(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND backend_type = 'client backend'"
        )[0]:
            if time.monotonic() > deadline:
                raise RuntimeError("other connections stay on the bench database")
            time.sleep(0.1)
        self._one("SELECT pg_stat_force_next_flush()")  # this reader's own counters
        own = self.statements
        transactions, rows, audit_events, issuances = self._one(
            "SELECT (SELECT xact_commit + xact_rollback FROM pg_stat_database"
            "        WHERE datname = current_database()),"
            " (SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)"
            "  FROM pg_stat_user_tables),"
            " (SELECT count(*) FROM accounts_auditevent),"
            " (SELECT count(*) FROM portal_tokenissuance)"
        )
        return Activity(int(transactions) - own, int(rows), audit_events, issuances)
