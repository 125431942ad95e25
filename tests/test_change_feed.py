"""The change feed (``GET /api/v1/grants?updated_since=``): order, paging, every writer,
and no skipped change when a transaction commits after a reader has paged past."""

import importlib
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from portal.api import feed
from portal.api.listing import API_SEEK
from portal.grants.representation import GRANT_FIELDS
from portal.models import ZohoGrant
from tests.api_calls import auth

pytestmark = pytest.mark.django_db(transaction=True)
SHOWN_COLUMNS = importlib.import_module("portal.migrations.0014_grant_change_feed").SHOWN_COLUMNS


def _page(client, key, since, cursor=None, **extra):
    params = {"updated_since": since.isoformat(), **extra}
    if cursor:
        params["cursor"] = cursor
    return client.get("/api/v1/grants", params, **auth(key))


def _read_all(client, key, since, cursor=None):
    """Page to the end; the ids in feed order and the cursor to resume from."""
    ids = []
    while True:
        response = _page(client, key, since, cursor)
        assert response.status_code == 200, response.content
        body = response.json()
        ids += [grant["id"] for grant in body["grants"]]
        cursor = body["next_cursor"]
        if not body["has_more"]:
            return ids, cursor


@pytest.fixture
def grants(make_grant, make_user):
    made = [make_grant(), make_grant(zoho_user_id="20000002"), make_grant(zoho_user_id="20000003")]
    return made


def _since():
    return timezone.now()


def test_feed_lists_changes_in_the_order_they_were_made(client, service_key, grants):
    first, second, third = grants
    since = _since()
    for grant, error in ((second, "a"), (first, "b"), (second, "c")):
        grant.last_error = error
        grant.save()
    ids, cursor = _read_all(client, service_key, since)
    assert ids == [str(first.pk), str(second.pk)]  # third did not change; second moved last
    assert cursor is not None
    assert _read_all(client, service_key, since, cursor) == ([], cursor)  # nothing new: stay


def test_feed_pages_by_keyset(client, service_key, grants, monkeypatch):
    monkeypatch.setattr(feed, "PAGE_SIZE", 2)
    since = _since()
    for grant in grants:
        grant.status = ZohoGrant.Status.TROUBLE
        grant.save()
    first = _page(client, service_key, since).json()
    assert len(first["grants"]) == 2 and first["has_more"] is True
    second = _page(client, service_key, since, first["next_cursor"]).json()
    assert [g["id"] for g in second["grants"]] == [str(grants[2].pk)]
    assert second["has_more"] is False
    assert second["grants"][0]["status"] == "trouble"


def test_queryset_updates_move_a_grant_but_unshown_columns_do_not(client, service_key, grants):
    """``.update()`` bypasses ``auto_now``; the trigger does not care how a row is written."""
    first, second, third = grants
    since = _since()
    ZohoGrant.objects.filter(pk=first.pk).update(last_used_at=timezone.now())  # issuance's touch
    ZohoGrant.objects.filter(pk=second.pk).update(next_check_at=timezone.now())  # not shown
    third.save()  # nothing changed
    ids, _ = _read_all(client, service_key, since)
    assert ids == [str(first.pk)]


def test_a_stale_instance_cannot_move_a_grant_backwards(client, service_key, grants):
    first, second, _ = grants
    stale = ZohoGrant.objects.get(pk=first.pk)
    since = _since()
    ZohoGrant.objects.filter(pk=first.pk).update(last_error="fresh")
    ZohoGrant.objects.filter(pk=second.pk).update(last_error="later")
    before, cursor = _read_all(client, service_key, since)
    assert before == [str(first.pk), str(second.pk)]
    stale.hidden_at = timezone.now()
    stale.save()  # writes the stale last_error back: a change the feed must show again
    assert _read_all(client, service_key, since, cursor)[0] == [str(first.pk)]


def test_an_owner_email_change_moves_their_grants(client, service_key, grants, alice, bob):
    since = _since()
    bob.email = "bob-new@example.com"
    bob.save()  # bob owns no grant
    assert _read_all(client, service_key, since)[0] == []
    alice.email = "alice-new@example.com"
    alice.save()
    ids, _ = _read_all(client, service_key, since)
    assert sorted(ids) == sorted(str(grant.pk) for grant in grants)


def test_feed_shows_only_changes_after_updated_since(client, service_key, grants):
    grants[0].last_error = "old"
    grants[0].save()
    since = _since()
    grants[1].last_error = "new"
    grants[1].save()
    assert _read_all(client, service_key, since)[0] == [str(grants[1].pk)]
    earlier = since - timedelta(hours=1)
    assert len(_read_all(client, service_key, earlier)[0]) == 3


def _other_connection() -> psycopg.Connection:
    params = connection.get_connection_params()
    return psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"})


def test_a_change_committing_after_the_reader_paged_past_is_not_skipped(
    client, service_key, grants
):
    """A writer takes its transaction id, a later writer commits first, the reader pages to
    the end, then the first writer commits: the reader's next page still brings it."""
    early, late, settled = grants
    since = _since()
    ZohoGrant.objects.filter(pk=settled.pk).update(last_error="settled")
    slow = _other_connection()
    try:
        with slow.cursor() as cursor:  # psycopg opens a transaction: the slow writer's
            cursor.execute(
                "UPDATE portal_zohogrant SET last_error = 'slow' WHERE id = %s", [early.pk]
            )
        ZohoGrant.objects.filter(pk=late.pk).update(last_error="late")  # committed at once
        seen, cursor_at = _read_all(client, service_key, since)
        assert seen == [str(settled.pk)]  # the late change waits behind the open transaction
        slow.commit()
    finally:
        slow.close()
    after, _ = _read_all(client, service_key, since, cursor_at)
    assert after == [str(early.pk), str(late.pk)]


def test_a_transaction_in_another_database_does_not_hold_the_feed(client, service_key, grants):
    since = _since()
    params = connection.get_connection_params()
    elsewhere = psycopg.connect(
        **{**{k: v for k, v in params.items() if k != "cursor_factory"}, "dbname": "postgres"}
    )
    try:
        with elsewhere.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()")  # holds a transaction id, open
        ZohoGrant.objects.filter(pk=grants[0].pk).update(last_error="moved")
        assert _read_all(client, service_key, since)[0] == [str(grants[0].pk)]
    finally:
        elsewhere.close()


@pytest.mark.parametrize(
    "params",
    [
        {"updated_since": "yesterday"},
        {"updated_since": "2026-12-01T10:00:00"},  # no offset
        {"updated_since": "2026-12-01"},
        {"updated_since": "0001-01-01T00:00:00+23:00"},
        {"updated_since": "2026-12-01T10:00:00Z", "cursor": "garbage"},
        {"updated_since": "2026-12-01T10:00:00Z", "status": "nonsense"},
    ],
)
def test_bad_feed_input_is_400(client, service_key, params):
    response = client.get("/api/v1/grants", params, **auth(service_key))
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"
    assert response["Cache-Control"] == "no-store"


def test_the_feed_combines_with_the_lists_filters(client, service_key, grants):
    since = _since()
    ZohoGrant.objects.filter(pk=grants[0].pk).update(status="trouble")
    ZohoGrant.objects.filter(pk=grants[1].pk).update(last_error="still active")
    response = _page(client, service_key, since, status="trouble")
    assert [g["id"] for g in response.json()["grants"]] == [str(grants[0].pk)]


def test_a_far_offset_is_read_in_utc(client, service_key, grants):
    grants[0].last_error = "moved"
    grants[0].save()
    response = _page(client, service_key, datetime(2000, 1, 1, tzinfo=UTC), cursor=None)
    far = client.get(
        "/api/v1/grants", {"updated_since": "2000-01-01T22:19:00+22:19"}, **auth(service_key)
    )
    assert far.status_code == 200 and far.json() == response.json()


def test_a_list_cursor_is_not_a_feed_cursor(client, service_key, grants):
    list_cursor = API_SEEK.encode([datetime.now(UTC), grants[0].pk])
    response = _page(client, service_key, _since(), list_cursor)
    assert response.status_code == 400


def test_the_trigger_watches_every_column_the_payload_shows():
    fields = GRANT_FIELDS  # the one list of what the API shows
    shown = {name for name in fields if "__" not in name} - {"id", "created_at"}
    assert shown == set(SHOWN_COLUMNS)
