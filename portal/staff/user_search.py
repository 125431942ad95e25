"""Selector for the staff user list: portal users by email, a keyset page at a time,
with their grant counts from one aggregated query per page (never one per row)."""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import BooleanField, Count, Q
from django.db.models.expressions import RawSQL

from accounts.models import User
from portal.grants.keyset import Seek
from portal.models import ZohoGrant

PAGE_SIZE = 50
USER_SEEK = Seek(
    "users", ('"accounts_user"."email"', '"accounts_user"."id"'), ("text", "int"), False
)


@dataclass(frozen=True)
class UserRow:
    id: int
    email: str
    external_id: str | None
    name: str
    is_active: bool
    is_being_deleted: bool  # deactivated until Zoho confirms their revocations (no reactivating)
    is_staff: bool
    date_joined: datetime
    last_login: datetime | None
    live_grants: int
    all_grants: int
    is_viewer: bool  # the staff member looking (who may not deactivate themselves)


@dataclass(frozen=True)
class UserPage:
    rows: list[UserRow]
    next_cursor: str | None
    is_first: bool


def user_page(*, q: str, cursor: list[Any] | None, viewer_id: int | None = None) -> UserPage:
    """Users whose email starts with ``q`` (any case) or whose external id is ``q``, in email
    order, after ``cursor``."""
    users = User.objects.only(
        "id",
        "email",
        "external_id",
        "first_name",
        "last_name",
        "is_active",
        "deletion_requested_at",
        "is_staff",
        "date_joined",
        "last_login",
    )
    if q:
        like = re.sub(r"([\\%_])", r"\\\1", q.lower()) + "%"
        email_starts = RawSQL('lower("accounts_user"."email") LIKE %s', [like], BooleanField())  # noqa: S611
        users = users.filter(Q(email_starts) | Q(external_id=q))
    if cursor is not None:
        users = users.filter(USER_SEEK.after(cursor))
    found = list(users.order_by("email", "id")[: PAGE_SIZE + 1])
    page = found[:PAGE_SIZE]
    counts = _grant_counts([user.pk for user in page])
    rows = [
        UserRow(
            id=user.pk,
            email=user.email,
            external_id=user.external_id,
            name=user.get_full_name(),
            is_active=user.is_active,
            is_being_deleted=user.deletion_requested_at is not None,
            is_staff=user.is_staff,
            date_joined=user.date_joined,
            last_login=user.last_login,
            live_grants=counts.get(user.pk, (0, 0))[0],
            all_grants=counts.get(user.pk, (0, 0))[1],
            is_viewer=user.pk == viewer_id,
        )
        for user in page
    ]
    after = None
    if len(found) > PAGE_SIZE:
        after = USER_SEEK.encode([page[-1].email, page[-1].pk])
    return UserPage(rows=rows, next_cursor=after, is_first=cursor is None)


def _grant_counts(user_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(not revoked, all) grant counts per user, from the (user, status) index."""
    if not user_ids:
        return {}
    rows = (
        ZohoGrant.objects.filter(user_id__in=user_ids)
        .values("user_id")
        .annotate(
            live=Count("id", filter=~Q(status=ZohoGrant.Status.REVOKED)),
            total=Count("id"),
        )
        .order_by()
    )
    return {row["user_id"]: (row["live"], row["total"]) for row in rows}
