"""Keyset ("seek") pagination: the next page starts after the last row's sort key.

A page costs the same at row 100 000 as at row 1 (no OFFSET): the position becomes a row
comparison ``(a, b, id) > (x, y, z)`` that PostgreSQL answers from a btree index on the same
columns. Every sort key ends with a unique column so positions never tie. Cursors are opaque
base64 JSON; a cursor that does not decode, or belongs to another sort, is refused.
"""

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

# How each kind of cursor value is written to and read from JSON.
_READERS = {
    "datetime": datetime.fromisoformat,
    "uuid": UUID,
    "text": str,
    "int": int,
}


@dataclass(frozen=True)
class Seek:
    """A sort order that pages by keyset: SQL columns (all in one direction) and their kinds."""

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
        plain = [
            value.isoformat() if isinstance(value, datetime) else str(value) for value in values
        ]
        raw = json.dumps([self.name, *plain]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, cursor: str) -> list[Any] | None:
        """The values in ``cursor``, or None when it is not a cursor of this order."""
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            name, *plain = json.loads(raw)
            if name != self.name or len(plain) != len(self.kinds):
                return None
            values = [_READERS[kind](value) for kind, value in zip(self.kinds, plain, strict=True)]
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, KeyError):
            return None
        if any(isinstance(value, datetime) and value.tzinfo is None for value in values):
            return None
        return values
