"""The one cursor codec (portal/grants/keyset.py) and the staff lists' links (paging.py)."""

import base64
import json
import uuid
from datetime import UTC, datetime

import pytest
from django.test import RequestFactory

from portal.api.feed import FEED_SEEK
from portal.api.listing import API_SEEK
from portal.grants.keyset import CURSOR_MAX_LENGTH, decode_cursor, encode_cursor
from portal.staff.grant_search import HISTORY_SEEK, SORTS
from portal.staff.paging import cursor_link, page_links, sort_links
from portal.staff.user_search import USER_SEEK

SEEKS = [*SORTS.values(), HISTORY_SEEK, USER_SEEK, API_SEEK, FEED_SEEK]
GRANT_ID = uuid.UUID("5f0c6a52-93f4-4b6e-9a43-0d1f4c2b7e11")
AT = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


def _raw(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def test_every_list_and_order_has_its_own_tag():
    assert len({seek.name for seek in SEEKS}) == len(SEEKS)


def test_a_cursor_reads_back_as_its_values():
    cursor = SORTS["status"].encode(["active", AT, GRANT_ID])
    assert SORTS["status"].decode(cursor) == ["active", AT, GRANT_ID]
    assert USER_SEEK.decode(USER_SEEK.encode(["zoë@example.com", 42])) == ["zoë@example.com", 42]
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_a_cursor_of_another_list_or_order_is_refused():
    staff_cursor = SORTS["-created"].encode([AT, GRANT_ID])
    assert API_SEEK.decode(staff_cursor) is None
    assert SORTS["created"].decode(staff_cursor) is None
    assert SORTS["-created"].decode(API_SEEK.encode([AT, GRANT_ID])) is None


@pytest.mark.parametrize(
    "garbage",
    [
        "%%%",
        "not-a-cursor",
        "é",
        _raw(5),
        _raw([]),
        _raw({"users": 1}),
        _raw(["users", "a"]),  # too few values
        _raw(["users", "a", 1]),  # values are always text
        _raw(["users", "a", "1e3"]),
        _raw(["users", "a\x00b", "1"]),  # PostgreSQL text cannot hold NUL
        _raw(["-created", "2026-03-01T12:30:15", str(GRANT_ID)]),  # no time zone
        _raw(["-created", AT.isoformat(), "not-a-uuid"]),
        base64.urlsafe_b64encode(b'["users", "a", Infinity]').decode(),
    ],
)
def test_garbage_decodes_to_none_and_never_raises(garbage):
    assert all(seek.decode(garbage) is None for seek in SEEKS)


def test_a_cursor_longer_than_the_bound_is_not_read():
    cursor = encode_cursor("users", ["a" * CURSOR_MAX_LENGTH, "1"])
    assert decode_cursor(cursor, tag="users", kinds=("text", "int")) is None
    longest_email = "a" * 242 + "@example.com"
    assert SORTS["owner"].decode(SORTS["owner"].encode([longest_email, GRANT_ID])) is not None


def test_page_links_keep_the_other_parameters_in_place():
    request = RequestFactory().get("/staff/grants/?q=acme&cursor=old&sort=owner")
    links = page_links(request, "new")
    assert links == {"next_url": "?q=acme&cursor=new&sort=owner", "first_url": "?q=acme&sort=owner"}
    assert page_links(request, None)["next_url"] == ""


def test_sort_links_start_from_the_first_page():
    request = RequestFactory().get("/staff/grants/?status=active&cursor=old")
    assert sort_links(request, {"owner": "owner"}) == {"owner": "?status=active&sort=owner"}


def test_a_seq_cursor_link_is_added_after_the_filters():
    assert cursor_link({"action": "grant.checked"}, name="before", cursor=71) == (
        "?action=grant.checked&before=71"
    )
    assert cursor_link({"action": "grant.checked"}, name="after", cursor=None) == ""
