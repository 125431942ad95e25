"""Checking the audit log's hash chain (built by the database, migration 0008).

The check runs inside PostgreSQL in one ordered pass over ``seq`` (a window function
compares each event with its predecessor) and stops at the first problem, so a million
events take seconds and no memory here. What it can tell:

- **gap**: a ``seq`` is missing (an event was deleted);
- **edited**: an event's fields no longer give its stored hash;
- **reordered**: an event links to an event that now sits elsewhere in the sequence;
- **broken link**: an event links to no event at all (e.g. its predecessor was deleted and
  the numbers closed up, or the hashes were forged).

A superuser can rewrite the whole chain; keeping the last seq and hash somewhere else and
checking them later (``anchor``) catches that, and a chain that ends before the anchor
(**truncated**: its tail or all of it removed, which the chain alone cannot tell).
"""

from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.backends.utils import CursorWrapper

GENESIS = "0" * 64

_FIRST_PROBLEM = """
WITH chain AS (
    SELECT e.seq, e.id, e.hash, e.prev_hash,
           accounts_auditevent_digest(e.prev_hash, e) AS digest,
           lag(e.seq) OVER w AS before_seq,
           lag(e.hash) OVER w AS before_hash
    FROM accounts_auditevent e
    WINDOW w AS (ORDER BY e.seq)
)
SELECT seq, id, hash, prev_hash, digest, before_seq, before_hash
FROM chain
WHERE seq <> coalesce(before_seq + 1, 1)
   OR digest <> hash
   OR prev_hash <> coalesce(before_hash, %s)
ORDER BY seq
LIMIT 1
"""

_SUMMARY = """
SELECT count(*), max(seq),
       (SELECT hash FROM accounts_auditevent ORDER BY seq DESC LIMIT 1)
FROM accounts_auditevent
"""


@dataclass(frozen=True)
class ChainProblem:
    kind: str  # gap, edited, reordered, broken_link, anchor, truncated
    seq: int
    message: str


@dataclass(frozen=True)
class ChainReport:
    checked: int
    last_seq: int | None
    last_hash: str | None
    problem: ChainProblem | None

    @property
    def is_intact(self) -> bool:
        return self.problem is None


def verify_chain(*, anchor: tuple[int, str] | None = None) -> ChainReport:
    """Recompute the whole chain; report the first problem, or a summary when intact."""
    with connection.cursor() as cursor:
        cursor.execute(_FIRST_PROBLEM, [GENESIS])
        row = cursor.fetchone()
        problem = _classify(cursor, row) if row else None
        if problem is None and anchor is not None:
            problem = _check_anchor(cursor, *anchor)
        cursor.execute(_SUMMARY)
        checked, last_seq, last_hash = cursor.fetchone()
    return ChainReport(checked, last_seq, last_hash, problem)


def _classify(cursor: CursorWrapper, row: tuple[Any, ...]) -> ChainProblem:
    seq, event_id, stored, prev_hash, digest, before_seq, before_hash = row
    expected = 1 if before_seq is None else before_seq + 1
    if seq != expected:
        missing = f"{expected}" if seq == expected + 1 else f"{expected}..{seq - 1}"
        return ChainProblem("gap", seq, f"seq {missing} missing before seq {seq}: deleted")
    if digest != stored:
        return ChainProblem(
            "edited", seq, f"event seq {seq} (id {event_id}) does not match its hash: edited"
        )
    cursor.execute(
        "SELECT seq FROM accounts_auditevent WHERE hash = %s AND seq <> %s LIMIT 1",
        [prev_hash, seq],
    )
    linked = cursor.fetchone()
    if linked:
        return ChainProblem(
            "reordered",
            seq,
            f"event seq {seq} (id {event_id}) follows the event now at seq {linked[0]}, "
            f"not seq {before_seq}: reordered",
        )
    return ChainProblem(
        "broken_link",
        seq,
        f"event seq {seq} (id {event_id}) does not link to seq {before_seq} "
        f"(expected prev_hash {before_hash or GENESIS}): broken link",
    )


def _check_anchor(cursor: CursorWrapper, seq: int, expected: str) -> ChainProblem | None:
    cursor.execute("SELECT hash FROM accounts_auditevent WHERE seq = %s", [seq])
    row = cursor.fetchone()
    if row is None:
        cursor.execute("SELECT max(seq) FROM accounts_auditevent")
        last = cursor.fetchone()[0]
        if last is None or last < seq:
            # The chain is consistent but shorter than what was anchored: its tail (or all of
            # it, e.g. a TRUNCATE with the triggers off) is gone.
            ends = "holds no events" if last is None else f"ends at seq {last}"
            return ChainProblem(
                "truncated",
                seq,
                f"the log {ends}, before anchor seq {seq}: events were removed from its end",
            )
        return ChainProblem("anchor", seq, f"anchor seq {seq} is no longer in the log")
    if row[0] != expected.lower():
        return ChainProblem("anchor", seq, f"anchor seq {seq} has another hash: rewritten")
    return None
