"""The change feed: ``GET /api/v1/grants?updated_since=<RFC 3339>``, for a backend catching up.

Each grant carries ``change_xid``, the 64-bit id of the transaction that last changed
anything the API shows of it, and ``changed_at``; PostgreSQL's triggers set both on every
write however it is made (``save()``, a queryset ``update()`` that bypasses ``auto_now``,
raw SQL) and when the owner's shown email changes (migration 0014). The feed lists grants
with ``changed_at`` after ``updated_since`` in ascending ``(change_xid, id)``, keyset-paged,
after the list's own filters (``status``, ``org_id``, ...), which it combines with.

Why a transaction id and not a sequence or a timestamp: a value taken while a transaction
runs becomes visible only when it commits, so a sequence number 10 may commit after 11 and
a reader past 11 would never see 10. A safety margin on ``updated_at`` only guesses how long
transactions last. Transaction ids come with a proof instead: every page shows only rows
whose writer id is below the oldest transaction of this database still in progress in the
page's own snapshot (the snapshot's ``xmax`` when none is). Every id below that bound
belongs to a transaction that has finished, and its changes are in the snapshot; every
transaction that commits later has an id at or above the bound, hence above any cursor the
reader holds. A row that commits later therefore always sorts after the reader's position,
and the reader who kept ``next_cursor`` meets it on a later page. The price: while one
transaction stays open, changes committed after it started wait for it (a long transaction
delays the feed; it never loses a change). Transactions of other databases on the same
server are ignored when ``pg_stat_activity`` names their database; one it cannot place
counts, which can only delay.

A row changed again moves to its new position. Deleted grants (only with their deleted
owner, after revocation, which the feed shows) leave the feed without a trace.
"""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL

from portal.grants.keyset import Seek
from portal.models import ZohoGrant

PAGE_SIZE = 50
FEED_SEEK = Seek(
    "api-grant-changes",
    ('"portal_zohogrant"."change_xid"', '"portal_zohogrant"."id"'),
    ("int", "uuid"),
    False,
)
# The first transaction id whose changes may not all be committed: the oldest transaction of
# this database in progress in the statement's snapshot (pg_current_snapshot() is the
# statement's own), else the first id not yet assigned. A transaction pg_stat_activity shows
# in another database cannot write this table; one it no longer shows still counts.
_SETTLED = """
"portal_zohogrant"."change_xid" < COALESCE(
    (SELECT min(x::text::bigint) FROM pg_snapshot_xip(pg_current_snapshot()) AS x
     WHERE NOT EXISTS (
        SELECT 1 FROM pg_stat_activity a
        WHERE a.backend_xid::text = mod(x::text::bigint, 4294967296)::text
          AND a.datname <> current_database())),
    pg_snapshot_xmax(pg_current_snapshot())::text::bigint)
"""


class TimestampField(forms.CharField):
    """An RFC 3339 timestamp with its UTC offset (a time without one is refused)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=64, **kwargs)

    def clean(self, value: Any) -> datetime | None:
        text = super().clean(value)
        if not text:
            return None
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            raise forms.ValidationError("not an RFC 3339 timestamp") from None
        if when.tzinfo is None:
            raise forms.ValidationError("the timestamp needs a UTC offset")
        try:  # in UTC: PostgreSQL takes offsets up to 15:59 only, Python up to 23:59
            return when.astimezone(UTC)
        except OverflowError:  # 0001-01-01 with a positive offset
            raise forms.ValidationError("out of range") from None


def change_page(
    grants: QuerySet[ZohoGrant],
    *,
    since: datetime,
    cursor: str,
    fields: Sequence[str],
    show: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Any] | None:
    """One page of the change feed over ``grants`` (already filtered), each row shown by
    ``show``; None for a cursor that is not the feed's.

    ``next_cursor`` is where to resume, also on the last page (``has_more`` false): keep it
    and ask again later, with the same ``updated_since``, to see what changed since.
    """
    position = FEED_SEEK.decode(cursor) if cursor else None
    if cursor and position is None:
        return None
    # Constant SQL only (the columns outside the model, the settled bound); values are
    # parameters.
    changed = RawSQL('"portal_zohogrant"."changed_at" > %s', [since], BooleanField())  # noqa: S611
    settled = RawSQL(_SETTLED, [], BooleanField())  # noqa: S611
    grants = grants.filter(changed, settled)
    if position is not None:
        grants = grants.filter(FEED_SEEK.after(position))
    change_xid = RawSQL('"portal_zohogrant"."change_xid"', [])  # noqa: S611
    ordered = grants.annotate(change_xid=change_xid).order_by("change_xid", "id")
    rows = list(ordered.values(*fields, "change_xid")[: PAGE_SIZE + 1])
    page = rows[:PAGE_SIZE]
    if page:
        cursor = FEED_SEEK.encode([page[-1]["change_xid"], page[-1]["id"]])
    return {
        "grants": [show(row) for row in page],
        "next_cursor": cursor or None,
        "has_more": len(rows) > PAGE_SIZE,
    }
