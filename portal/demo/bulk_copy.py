"""Bulk inserts with PostgreSQL's COPY (psycopg ``cursor.copy``), for the demo data."""

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connection, models
from psycopg.types.json import Jsonb

Progress = Callable[[str, int, int], None]  # (stage, done, total)
REPORT_EVERY = 5000


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """Take ``count`` ids from the table's sequence (so rows can refer to each other)."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, count],
        )
        return [row[0] for row in cursor.fetchall()]


def copy_rows(
    model: type[models.Model], rows: list[dict[str, Any]], *, stage: str, progress: Progress
) -> int:
    """COPY ``rows`` (dicts by attname) into the model's table. Every other column gets its
    field's default, so a field added later with a default needs no change here; an
    auto-increment id is written only when the rows carry one."""
    fields = [
        f
        for f in model._meta.concrete_fields
        if not isinstance(f, models.AutoField) or (rows and f.attname in rows[0])
    ]
    defaults = [_default(f) for f in fields]
    names = [f.attname for f in fields]
    tuples = (
        [
            row[name] if name in row else default
            for name, default in zip(names, defaults, strict=True)
        ]
        for row in rows
    )
    columns = [_column(f) for f in fields]
    return copy_tuples(model._meta.db_table, columns, tuples, len(rows), stage, progress)


def _column(field: "models.Field[Any, Any]") -> str:  # quoted: Field is generic only in the stubs
    """A concrete field's column (only fields without one, which are never concrete, have None)."""
    assert field.column is not None
    return field.column


def copy_tuples(
    table: str,
    columns: list[str],
    rows: Iterable[Sequence[Any]],
    total: int,
    stage: str,
    progress: Progress,
) -> int:
    """``COPY table (columns) FROM STDIN`` with ``rows`` in that column order."""
    quote = connection.ops.quote_name
    sql = f"COPY {quote(table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    done = 0
    with connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
            done += 1
            if done % REPORT_EVERY == 0:
                progress(stage, done, total)
    if done % REPORT_EVERY or not done:
        progress(stage, done, total)
    return done


def _default(field: models.Field) -> Any:
    value = field.get_default()
    return Jsonb(value) if isinstance(field, models.JSONField) else value
