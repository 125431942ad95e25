"""Checking the audit log's hash chain (built by the database, migration 0008).

The check runs inside PostgreSQL in one ordered pass over ``seq``, a batch at a time (a
window function compares each event with its predecessor, the first with the previous batch's
last), and stops at the first problem, so a million events take seconds and no memory here;
the batches let the command show its progress. What it can tell:

- **gap**: a ``seq`` is missing (an event was deleted);
- **edited**: an event's fields no longer give its stored hash;
- **reordered**: an event links to an event that now sits elsewhere in the sequence;
- **broken link**: an event links to no event at all (e.g. its predecessor was deleted and
  the numbers closed up, or the hashes were forged).

A superuser can rewrite the whole chain; keeping the last seq and hash somewhere else and
checking them later (``anchor``) catches that, and a chain that ends before the anchor
(**truncated**: its tail or all of it removed, which the chain alone cannot tell).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.backends.utils import CursorWrapper

GENESIS = "0" * 64

# One batch of the walk: the next events after ``after`` (up to ``last``, where the walk
# started), each compared with its predecessor (the previous batch's last event for the first).
# One pass, nothing materialised: the batch query only counts and finds the first problem's
# seq; the rare problem is then read again with its details.
_CHAIN = """
SELECT b.*,
       coalesce(lag(b.seq) OVER w, %(before_seq)s::bigint) AS before_seq,
       coalesce(lag(b.hash) OVER w, %(before_hash)s) AS before_hash
FROM (
    SELECT e.seq, e.id, e.hash, e.prev_hash, accounts_auditevent_digest(e.prev_hash, e) AS digest
    FROM accounts_auditevent e
    WHERE e.seq > %(after)s AND e.seq <= %(last)s
    ORDER BY e.seq
    LIMIT %(size)s
) b
WINDOW w AS (ORDER BY b.seq)
"""
_WRONG = """(c.seq <> coalesce(c.before_seq + 1, 1) OR c.digest <> c.hash
             OR c.prev_hash <> coalesce(c.before_hash, %(genesis)s))"""
_BATCH = (
    "SELECT count(*), max(c.seq), min(c.seq) "  # noqa: S608 (constants)
    f"FILTER (WHERE {_WRONG}) FROM ({_CHAIN}) c"
)
_PROBLEM = (
    "SELECT c.seq, c.id, c.hash, c.prev_hash, c.digest, c.before_seq, c.before_hash "  # noqa: S608
    f"FROM ({_CHAIN}) c WHERE c.seq = %(problem)s"
)

_SUMMARY = """
SELECT count(*), max(seq),
       (SELECT hash FROM accounts_auditevent ORDER BY seq DESC LIMIT 1)
FROM accounts_auditevent
"""
BATCH_SIZE = 50_000
BEFORE_ALL = -(2**63)  # below every bigint seq, even a forged negative one
Progress = Callable[[str, int, int], None]  # (stage, done, total)


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


def verify_chain(
    *, anchor: tuple[int, str] | None = None, progress: Progress | None = None
) -> ChainReport:
    """Recompute the whole chain; report the first problem, or a summary when intact.

    ``progress("events", done, total)`` is called after each batch of ``BATCH_SIZE`` events.
    Events appended during the walk are left for the next run.
    """
    step = progress or (lambda stage, done, total: None)
    with connection.cursor() as cursor:
        cursor.execute(_SUMMARY)
        checked, last_seq, last_hash = cursor.fetchone()
        problem = _walk(cursor, last_seq, lambda done: step("events", done, checked))
        if problem is None and anchor is not None:
            problem = _check_anchor(cursor, *anchor)
    return ChainReport(checked, last_seq, last_hash, problem)


def _walk(
    cursor: CursorWrapper, last: int | None, step: Callable[[int], None]
) -> ChainProblem | None:
    """Walk ``seq`` up to ``last`` a batch at a time (each an index range scan); stop at the
    first problem."""
    done, after, before_seq, before_hash = 0, BEFORE_ALL, None, None
    step(done)
    while last is not None:
        params: dict[str, int | str | None] = {"after": after, "last": last, "size": BATCH_SIZE}
        params |= {"before_seq": before_seq, "before_hash": before_hash, "genesis": GENESIS}
        cursor.execute(_BATCH, params)
        count, batch_seq, problem = cursor.fetchone()
        done += count
        step(done)
        if problem is not None:
            cursor.execute(_PROBLEM, {**params, "problem": problem})
            return _classify(cursor, cursor.fetchone())
        if count < BATCH_SIZE:
            return None
        cursor.execute("SELECT hash FROM accounts_auditevent WHERE seq = %s", [batch_seq])
        after = before_seq = batch_seq
        before_hash = cursor.fetchone()[0]
    return None


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
