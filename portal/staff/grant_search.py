"""Selectors for the staff grant pages: search, filters, keyset pages, one grant's history.

Every page is one query on ``portal_zohogrant`` (joined to its owner; a search adds one),
whatever the table's size, served by the indexes of migration 0007_staff_grant_indexes: a
btree per sort order, ``lower(email)`` and ``lower(zoho_email)`` btrees for email prefixes, a
GIN index over the organizations' words (names and ids). The search is written in SQL so
that each branch matches its index."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID

from django.db import connection
from django.db.models import BooleanField, OrderBy, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from accounts.audit import list_events
from portal.grants.keyset import Seek
from portal.grants.status import GrantRow, grant_row
from portal.grants.wording import event_label, warning_label
from portal.models import REFRESHED_SORT_KEY, ZohoGrant

PAGE_SIZE = 50
HISTORY_PAGE_SIZE = 50
G = '"portal_zohogrant"'
REFRESHED_KEY = REFRESHED_SORT_KEY
_REFRESHED_SQL = f"COALESCE({G}.\"last_refreshed_at\", '1970-01-01 00:00:00+00'::timestamptz)"

SORTS = {
    "-created": Seek("-created", (f'{G}."created_at"', f'{G}."id"'), ("datetime", "uuid"), True),
    "created": Seek("created", (f'{G}."created_at"', f'{G}."id"'), ("datetime", "uuid"), False),
    "-last_refreshed": Seek(
        "-last_refreshed", (_REFRESHED_SQL, f'{G}."id"'), ("datetime", "uuid"), True
    ),
    "last_refreshed": Seek(
        "last_refreshed", (_REFRESHED_SQL, f'{G}."id"'), ("datetime", "uuid"), False
    ),
    "owner": Seek("owner", ('"accounts_user"."email"', f'{G}."id"'), ("text", "uuid"), False),
    "status": Seek(
        "status",
        (f'{G}."status"', f'{G}."created_at"', f'{G}."id"'),
        ("text", "datetime", "uuid"),
        False,
    ),
}
SORT_LABELS = {
    "-created": "Newest first",
    "created": "Oldest first",
    "-last_refreshed": "Recently refreshed first",
    "last_refreshed": "Least recently refreshed first",
    "owner": "Owner email",
    "status": "Status",
}
_ORDER: dict[str, tuple[str | OrderBy, ...]] = {
    "-created": ("-created_at", "-id"),
    "created": ("created_at", "id"),
    "-last_refreshed": (REFRESHED_KEY.desc(), "-id"),
    "last_refreshed": (REFRESHED_KEY.asc(), "id"),
    "owner": ("user__email", "id"),
    "status": ("status", "created_at", "id"),
}
WARNING_ANY = "any"
WARNING_NONE = "none"


@dataclass(frozen=True)
class GrantQuery:
    q: str = ""
    status: str = ""
    dc: str = ""
    warning: str = ""
    refreshed_after: date | None = None
    refreshed_before: date | None = None
    created_after: date | None = None
    created_before: date | None = None
    sort: str = "-created"
    cursor: list[Any] | None = None


@dataclass(frozen=True)
class StaffGrantRow:
    row: GrantRow
    owner_id: int
    owner_email: str
    owner_is_active: bool
    warning_label: str
    created_at: datetime


@dataclass(frozen=True)
class GrantPage:
    rows: list[StaffGrantRow]
    next_cursor: str | None = None
    is_first: bool = True


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


_OWNERS_LIKE = 'SELECT "id" FROM "accounts_user" WHERE lower("email") LIKE %s'
_OWNER_BY_EXTERNAL_ID = 'SELECT "id" FROM "accounts_user" WHERE "external_id" = %s'
# A search matching at most this many grants is answered from their ids; a broader one by
# walking the sort order's index and filtering (matches are then dense enough to find a page).
SEARCH_ID_CAP = 2000


def _search(grants: QuerySet[ZohoGrant], q: str) -> QuerySet[ZohoGrant]:
    """Owner email or Zoho email prefix, organization name/id word prefix, or a grant id.

    Two statements, whatever the data: each branch is an index scan (owners' and Zoho
    emails by text_pattern_ops btree, organizations' words by GIN), their union gives the matching
    ids up to a cap, and the page is read by those ids. Planning the OR of the branches in
    one statement makes PostgreSQL guess the matches dense and walk the whole sort index.
    """
    text = q.strip().lower()
    try:
        return grants.filter(pk=UUID(text))
    except ValueError:
        pass
    like = re.sub(r"([\\%_])", r"\\\1", text) + "%"
    branches = [
        (f'"user_id" = ANY(ARRAY({_OWNERS_LIKE}))', like),
        ('lower("zoho_email") LIKE %s', like),
        (f'"user_id" = ANY(ARRAY({_OWNER_BY_EXTERNAL_ID}))', q.strip()),
    ]
    words = re.findall(r"\w+", text)[:8]
    if words and "@" not in text:
        branches.append(
            (
                "\"organization_words\" @@ to_tsquery('simple'::regconfig, %s)",
                " & ".join(f"{word}:*" for word in words),
            )
        )
    union = " UNION ALL ".join(
        f'(SELECT "id" FROM "portal_zohogrant" WHERE {condition})'  # noqa: S608 (constants)
        for condition, _ in branches
    )
    with connection.cursor() as cursor:
        cursor.execute(f"{union} LIMIT {SEARCH_ID_CAP + 1}", [param for _, param in branches])
        found = [row[0] for row in cursor.fetchall()]
    if len(found) <= SEARCH_ID_CAP:
        return grants.filter(pk__in=set(found))
    # Unqualified columns are the grant's: the joined owner table has none of these names.
    # Built from the constant branches above only; user input is all in the parameters.
    either = " OR ".join(condition for condition, _ in branches)
    return grants.filter(
        RawSQL(f"({either})", [param for _, param in branches], BooleanField())  # noqa: S611
    )


def _filtered(query: GrantQuery) -> QuerySet[ZohoGrant]:
    grants = ZohoGrant.objects.select_related("user").defer(
        "refresh_token_encrypted", "access_token_encrypted", "user__password"
    )
    if query.q.strip():
        grants = _search(grants, query.q)
    if query.status:
        grants = grants.filter(status=query.status)
    if query.dc:
        grants = grants.filter(data_centre=query.dc)
    if query.warning == WARNING_ANY:
        grants = grants.exclude(warning="")
    elif query.warning == WARNING_NONE:
        grants = grants.filter(warning="")
    elif query.warning:
        grants = grants.filter(warning=query.warning)
    if query.refreshed_after:
        grants = grants.filter(last_refreshed_at__gte=_midnight(query.refreshed_after))
    if query.refreshed_before:
        grants = grants.filter(last_refreshed_at__lt=_midnight(query.refreshed_before))
    if query.created_after:
        grants = grants.filter(created_at__gte=_midnight(query.created_after))
    if query.created_before:
        grants = grants.filter(created_at__lt=_midnight(query.created_before))
    return grants


def _cursor_values(grant: ZohoGrant, sort: str) -> list[Any]:
    if sort.endswith("created"):
        return [grant.created_at, grant.pk]
    if sort.endswith("last_refreshed"):
        return [grant.refreshed_key, grant.pk]  # type: ignore[attr-defined]
    if sort == "owner":
        return [grant.user.email, grant.pk]
    return [grant.status, grant.created_at, grant.pk]


def grant_page(query: GrantQuery) -> GrantPage:
    """One page of grants in the asked order, starting after ``query.cursor``."""
    seek = SORTS[query.sort]
    grants = _filtered(query).annotate(refreshed_key=REFRESHED_KEY)
    if query.cursor is not None:
        grants = grants.filter(seek.after(query.cursor))
        if query.sort == "owner":  # lets the planner start the owners' index at the cursor
            grants = grants.filter(user__email__gte=query.cursor[0])
    found = list(grants.order_by(*_ORDER[query.sort])[: PAGE_SIZE + 1])
    now = timezone.now()
    rows = [_staff_row(grant, now) for grant in found[:PAGE_SIZE]]
    after = None
    if len(found) > PAGE_SIZE:
        after = seek.encode(_cursor_values(found[PAGE_SIZE - 1], query.sort))
    return GrantPage(rows=rows, next_cursor=after, is_first=query.cursor is None)


def _staff_row(grant: ZohoGrant, now: datetime) -> StaffGrantRow:
    return StaffGrantRow(
        row=grant_row(grant, now=now),
        owner_id=grant.user_id,
        owner_email=grant.user.email,
        owner_is_active=grant.user.is_active,
        warning_label=warning_label(grant.warning),
        created_at=grant.created_at,
    )


def staff_grant(grant_id: UUID) -> StaffGrantRow | None:
    """One grant for the staff detail page (no token columns are read), or None."""
    grant = _filtered(GrantQuery()).filter(pk=grant_id).first()
    return _staff_row(grant, timezone.now()) if grant is not None else None


HISTORY_SEEK = Seek(
    "history",
    ('"accounts_auditevent"."created_at"', '"accounts_auditevent"."id"'),
    ("datetime", "int"),
    True,
)


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    action: str
    label: str  # plain words, or "" when the action code says it all
    actor: str
    outcome: str
    details: list[tuple[str, str]]


@dataclass(frozen=True)
class HistoryPage:
    entries: list[HistoryEntry]
    next_cursor: str | None


def grant_history_page(grant_id: UUID, cursor: list[Any] | None) -> HistoryPage:
    """A grant's audit events, newest first, one keyset page at a time (staff see who)."""
    events = list_events(grant_id=grant_id).order_by("-created_at", "-id")
    if cursor is not None:
        events = events.filter(HISTORY_SEEK.after(cursor))
    found = list(events[: HISTORY_PAGE_SIZE + 1])
    after = None
    if len(found) > HISTORY_PAGE_SIZE:
        last = found[HISTORY_PAGE_SIZE - 1]
        after = HISTORY_SEEK.encode([last.created_at, last.pk])
    entries = [
        HistoryEntry(
            at=event.created_at,
            action=event.action,
            label=event_label(event.action),
            actor=event.actor_repr or "Desk Connect",
            outcome=event.outcome,
            details=[(str(key), str(value)) for key, value in sorted(event.detail.items())],
        )
        for event in found[:HISTORY_PAGE_SIZE]
    ]
    return HistoryPage(entries=entries, next_cursor=after)
