"""Audit exports as CSV or JSON lines, streamed from a server-side cursor in constant memory.

Rows come oldest first (a log's natural order) straight from PostgreSQL in chunks inside one
read transaction, are formatted as they arrive and leave in blocks of about 64 KB, so the
export of a million events holds one chunk in memory, never the result. Audit rows hold no
secrets (``accounts.audit`` refuses them); nothing else is read here.
"""

import csv
import io
from collections.abc import Iterable, Iterator

from django.db import transaction
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from accounts.models import AuditEvent

_T = '"accounts_auditevent".'
_UTC = f"to_char({_T}created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
# Each column as PostgreSQL formats it: text, so rows need no conversion here.
COLUMNS = {
    "seq": f"{_T}seq::text",
    "created_at": _UTC,
    "action": f"{_T}action",
    "outcome": f"{_T}outcome",
    "actor_id": f"{_T}actor_id::text",
    "actor": f"{_T}actor_repr",
    "grant_id": f"{_T}grant_id::text",
    "grant": f"{_T}grant_repr",
    "owner_id": f"{_T}owner_id::text",
    "owner": f"{_T}owner_repr",
    "reason": f"{_T}detail ->> 'reason'",
    "detail": f"{_T}detail::text",
    "ip_address": f"host({_T}ip_address)",
    "user_agent": f"{_T}user_agent",
    "request_id": f"{_T}request_id",  # to find the request's log lines
    "prev_hash": f"{_T}prev_hash",
    "hash": f"{_T}hash",
}
# JSON lines: PostgreSQL builds each line (numbers stay numbers, detail stays an object).
_JSON_VALUES = {
    **COLUMNS,
    "seq": f"{_T}seq",
    "actor_id": f"{_T}actor_id",
    "owner_id": f"{_T}owner_id",
    "detail": f"{_T}detail",
}
_JSON_LINE = (
    "json_build_object("
    + ", ".join(f"'{name}', {expression}" for name, expression in _JSON_VALUES.items())
    + ")::text"
)
CHUNK_ROWS = 2000
BLOCK_BYTES = 64 * 1024
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _stream(values: QuerySet[AuditEvent, tuple[str | None, ...]]) -> Iterator[tuple]:
    with transaction.atomic():  # a server-side cursor lives inside a transaction
        yield from values.iterator(chunk_size=CHUNK_ROWS)


def csv_stream(events: QuerySet[AuditEvent]) -> Iterator[str]:
    """The events as CSV (header first), oldest first, in blocks of about 64 KB."""
    # Constant SQL from this module, no input in it.
    columns = {f"export_{name}": RawSQL(sql, []) for name, sql in COLUMNS.items()}  # noqa: S611
    values = events.order_by("seq").annotate(**columns).values_list(*columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for row in _stream(values):
        writer.writerow([neutralised(cell) if cell else "" for cell in row])
        if buffer.tell() >= BLOCK_BYTES:
            yield _drain(buffer)
    yield _drain(buffer)


def jsonl_stream(events: QuerySet[AuditEvent]) -> Iterator[str]:
    """The events as JSON lines, oldest first, in blocks of about 64 KB."""
    lines = events.order_by("seq").annotate(export_line=RawSQL(_JSON_LINE, []))  # noqa: S611
    return _blocks(line + "\n" for (line,) in _stream(lines.values_list("export_line")))


def neutralised(text: str) -> str:
    """A CSV cell that no spreadsheet will run as a formula: prefixed with ' if risky."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _blocks(lines: Iterable[str]) -> Iterator[str]:
    block: list[str] = []
    size = 0
    for line in lines:
        block.append(line)
        size += len(line)
        if size >= BLOCK_BYTES:
            yield "".join(block)
            block, size = [], 0
    yield "".join(block)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
