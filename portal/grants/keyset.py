"""Keyset ("seek") pagination and its cursors, for every paged list (staff pages and the API).

A page costs the same at row 100 000 as at row 1 (no OFFSET): the position becomes a row
comparison ``(a, b, id) > (x, y, z)`` that PostgreSQL answers from a btree index on the same
columns. Every sort key ends with a unique column so positions never tie.

A cursor is opaque to its reader: url-safe base64 (unpadded) of a JSON list, the list's tag
first, then the position's values as text. The tag names one list in one order, so a cursor
of another list or sort is refused like any other garbage: decoding never raises, it answers
None and the caller refuses the page as it sees fit.
"""

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

# Longer text is refused unread; the longest honest cursor (a 254-character email) fits.
CURSOR_MAX_LENGTH = 1024

# How each kind of cursor value is read back from its text.
_READERS: dict[str, Callable[[str], Any]] = {
    "datetime": datetime.fromisoformat,
    "uuid": UUID,
    "text": str,
    "int": int,
}


def encode_cursor(tag: str, values: Sequence[Any]) -> str:
    """The opaque cursor for the position ``values`` in the list named ``tag``."""
    plain = [value.isoformat() if isinstance(value, datetime) else str(value) for value in values]
    raw = json.dumps([tag, *plain]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, tag: str, kinds: Sequence[str]) -> list[Any] | None:
    """The values in ``cursor`` read as ``kinds``, or None when it is not a cursor of ``tag``.

    Garbage of any shape (bad base64, not JSON, wrong tag or count, a value of the wrong
    kind, a NUL that PostgreSQL text cannot hold, a datetime without a zone) gives None.
    """
    if len(cursor) > CURSOR_MAX_LENGTH:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        name, *plain = json.loads(raw)
        if name != tag or len(plain) != len(kinds):
            return None
        if not all(isinstance(value, str) and "\x00" not in value for value in plain):
            return None
        values = [_READERS[kind](value) for kind, value in zip(kinds, plain, strict=True)]
    except (binascii.Error, ValueError, TypeError, KeyError, OverflowError):
        return None
    if any(isinstance(value, datetime) and value.tzinfo is None for value in values):
        return None
    return values


@dataclass(frozen=True)
class Seek:
    """A sort order that pages by keyset: SQL columns (all in one direction) and their kinds.

    ``name`` is the cursors' tag: unique per list and order.
    """

    name: str
    columns: Sequence[str]  # SQL expressions, matching an index column for column
    kinds: Sequence[str]  # "datetime", "uuid", "text" or "int", one per column
    descending: bool

    def after(self, values: Sequence[Any]) -> RawSQL:
        """The filter for rows after ``values`` in this order."""
        operator = "<" if self.descending else ">"
        placeholders = ", ".join(["%s"] * len(values))
        sql = f"({', '.join(self.columns)}) {operator} ({placeholders})"
        # Only our own column expressions are joined in; every value is a parameter.
        return RawSQL(sql, list(values), output_field=BooleanField())  # noqa: S611

    def encode(self, values: Sequence[Any]) -> str:
        return encode_cursor(self.name, values)

    def decode(self, cursor: str) -> list[Any] | None:
        """The values in ``cursor``, or None when it is not a cursor of this order."""
        return decode_cursor(cursor, tag=self.name, kinds=self.kinds)
