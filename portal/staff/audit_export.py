"""Audit exports as CSV or JSON lines, streamed from a server-side cursor in constant memory.

Rows come oldest first (a log's natural order) straight from PostgreSQL in chunks inside one
read transaction, are formatted as they arrive and leave in blocks of about 64 KB, so the
export of a million events holds one chunk in memory, never the result. Audit rows hold no
secrets (``accounts.audit`` refuses them); nothing else is read here.
"""

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.db.models.fields.json import KT

from accounts.models import AuditEvent

COLUMNS = (
    "seq",
    "created_at",
    "action",
    "outcome",
    "actor_id",
    "actor",
    "grant_id",
    "grant",
    "owner_id",
    "owner",
    "reason",
    "detail",
    "ip_address",
    "user_agent",
    "prev_hash",
    "hash",
)
_FIELDS = (
    "seq",
    "created_at",
    "action",
    "outcome",
    "actor_id",
    "actor_repr",
    "grant_id",
    "grant_repr",
    "owner_id",
    "owner_repr",
    "reason",
    "detail",
    "ip_address",
    "user_agent",
    "prev_hash",
    "hash",
)
CHUNK_ROWS = 2000
BLOCK_BYTES = 64 * 1024
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def export_rows(events: QuerySet[AuditEvent]) -> Iterator[dict[str, Any]]:
    """Each event as a plain dict (column name → JSON-ready value), oldest first."""
    rows = events.order_by("seq").annotate(reason=KT("detail__reason")).values_list(*_FIELDS)
    with transaction.atomic():  # a server-side cursor lives inside a transaction
        for row in rows.iterator(chunk_size=CHUNK_ROWS):
            yield dict(zip(COLUMNS, (_plain(value) for value in row), strict=True))


def csv_stream(events: QuerySet[AuditEvent]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for row in export_rows(events):
        writer.writerow([neutralised(_csv_text(value)) for value in row.values()])
        if buffer.tell() >= BLOCK_BYTES:
            yield _drain(buffer)
    yield _drain(buffer)


def jsonl_stream(events: QuerySet[AuditEvent]) -> Iterator[str]:
    return _blocks(json.dumps(row, ensure_ascii=False) + "\n" for row in export_rows(events))


def neutralised(text: str) -> str:
    """A CSV cell that no spreadsheet will run as a formula: prefixed with ' if risky."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if value is None or isinstance(value, int | str | dict | list | bool):
        return value
    return str(value)  # UUID, IP address


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


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
