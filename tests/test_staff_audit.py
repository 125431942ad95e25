"""The staff audit page: who may open it, filters, keyset pages, escaping, bounded queries."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission

from accounts.audit import record_event
from accounts.models import AuditEvent

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action
URLS = ("/staff/audit/", "/staff/audit/export.csv", "/staff/audit/export.jsonl")


def seqs(response) -> list[int]:
    return [int(seq) for seq in re.findall(r"<tr>\s*<td>(\d+)</td>", response.content.decode())]


@pytest.mark.parametrize("url", URLS)
def test_only_staff_with_the_audit_permission_get_in(client, alice, staff, url):
    response = client.get(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(alice)
    assert client.get(url).status_code == 404
    client.force_login(staff)
    assert client.get(url).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_all_grants"))
    assert client.get(url).status_code == 403  # another staff permission is not this one
    staff.user_permissions.add(Permission.objects.get(codename="view_audit_log"))
    assert client.get(url).status_code == 200
    assert not AuditEvent.objects.exclude(action=Action.AUDIT_EXPORTED).exists()


def test_the_audit_log_is_in_the_staff_navigation(auditor_client):
    assert auditor_client.get("/staff/").headers["Location"] == "/staff/audit/"
    page = auditor_client.get("/staff/audit/").content.decode()
    assert 'href="/staff/audit/" aria-current="page"' in page


def test_the_page_lists_events_newest_first_with_who_what_and_where(
    auditor_client, alice, bob, make_grant
):
    grant = make_grant()
    record_event(action=Action.CONNECTED, actor=alice, grant=grant)
    record_event(
        action=Action.REVOKE_REQUESTED, actor=bob, grant=grant, detail={"reason": "left the firm"}
    )
    response = auditor_client.get("/staff/audit/")
    page = response.content.decode()
    assert seqs(response) == [2, 1]
    assert "grant.revoke_requested" in page and "left the firm" in page
    assert f"bob@example.com (#{bob.pk})" in page and f"alice@example.com (#{alice.pk})" in page
    assert f'href="?grant={grant.pk}"' in page and "UTC" in page


def test_filters_narrow_the_events(auditor_client, alice, bob, make_grant):
    alices, bobs = make_grant(), make_grant(user=bob)
    record_event(action=Action.CONNECTED, actor=alice, grant=alices)  # 1
    record_event(action=Action.CONNECTED, actor=bob, grant=bobs)  # 2
    record_event(action=Action.REFRESH_FAILED, grant=alices, outcome="failure")  # 3
    record_event(action=Action.REVOKE_REQUESTED, actor=bob, detail={"reason": "Customer left"})
    expected = {
        f"actor={alice.pk}": [1],
        "actor=BOB@example.com": [4, 2],
        "action=grant.connected": [2, 1],
        f"grant={alices.pk}": [3, 1],
        f"owner={bob.pk}": [2],
        "owner=alice@example.com": [3, 1],
        "outcome=failure": [3],
        "q=custom": [4],
        "q=LEFT+customer": [4],
        "q=firm": [],
        f"actor={bob.pk}&action=grant.connected": [2],
    }
    for query, wanted in expected.items():
        assert seqs(auditor_client.get(f"/staff/audit/?{query}")) == wanted, query


def test_a_date_range_is_inclusive_in_utc(auditor_client):
    days = [datetime(2026, 3, day, 12, tzinfo=UTC) for day in (1, 2, 3, 4)]
    for day in days:
        AuditEvent.objects.create(action=Action.CHECKED, created_at=day)
    response = auditor_client.get("/staff/audit/?date_from=2026-03-02&date_to=2026-03-03")
    assert seqs(response) == [3, 2]
    assert seqs(auditor_client.get("/staff/audit/?date_from=2026-03-04")) == [4]
    assert seqs(auditor_client.get("/staff/audit/?date_to=2026-03-01")) == [1]
    assert seqs(auditor_client.get("/staff/audit/?date_from=2027-01-01")) == []


@pytest.mark.parametrize(
    "query",
    [
        "actor=nobody@example.com",
        "actor=drop table",
        "owner=99999999999999999999999",
        "grant=not-a-uuid",
        "action=grant.exploded",
        "outcome=maybe",
        "date_from=yesterday",
        "date_from=2026-03-02&date_to=2026-03-01",
        "date_to=9999-12-31",
        "q=%25%25%25",
        "before=-1",
        "before=abc",
        "after=99999999999999999999999",
        "before=5&after=2",
        "q=" + "x" * 201,
    ],
)
def test_invalid_filters_get_a_form_error_not_a_crash(auditor_client, query):
    response = auditor_client.get(f"/staff/audit/?{query}")
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    assert auditor_client.get(f"/staff/audit/export.csv?{query}").status_code == 400
    assert not AuditEvent.objects.filter(action=Action.AUDIT_EXPORTED).exists()


def test_pages_go_older_and_newer_by_seq(auditor_client):
    AuditEvent.objects.bulk_create(AuditEvent(action=Action.CHECKED) for _ in range(120))
    first = auditor_client.get("/staff/audit/")
    assert seqs(first) == list(range(120, 70, -1))
    page = first.content.decode()
    assert "Newer" not in page and 'href="?before=71"' in page
    second = auditor_client.get("/staff/audit/?before=71")
    assert seqs(second) == list(range(70, 20, -1))
    assert 'href="?after=70"' in second.content.decode()
    third = auditor_client.get("/staff/audit/?before=21")
    assert seqs(third) == list(range(20, 0, -1)) and "Older" not in third.content.decode()
    back = auditor_client.get("/staff/audit/?after=20")
    assert seqs(back) == list(range(70, 20, -1))
    assert seqs(auditor_client.get("/staff/audit/?after=70")) == list(range(120, 70, -1))


def test_paging_keeps_the_filters(auditor_client):
    AuditEvent.objects.bulk_create(
        AuditEvent(action=Action.CHECKED if n % 2 else Action.TESTED) for n in range(130)
    )
    page = auditor_client.get("/staff/audit/?action=grant.checked").content.decode()
    link = re.search(r'href="(\?[^"]*before=\d+[^"]*)"', page)
    assert link is not None
    older = link[1].replace("&amp;", "&")
    assert "action=grant.checked" in older
    response = auditor_client.get(f"/staff/audit/{older}")
    assert len(seqs(response)) == 15
    assert all(seq % 2 == 0 for seq in seqs(response))


@pytest.mark.parametrize("events", [3, 150])
def test_the_query_count_does_not_grow_with_the_log(
    auditor_client, alice, make_grant, django_assert_max_num_queries, events
):
    grant = make_grant()
    AuditEvent.objects.bulk_create(
        AuditEvent(action=Action.CHECKED, grant_id=grant.pk, owner_id=alice.pk)
        for _ in range(events)
    )
    queries = [
        "",
        "?before=100",
        "?after=2",
        f"?actor=alice@example.com&owner=alice@example.com&grant={grant.pk}"
        "&action=grant.checked&outcome=success&date_from=2020-01-01&date_to=2030-01-01&q=word",
    ]
    for query in queries:
        with django_assert_max_num_queries(9):
            assert auditor_client.get(f"/staff/audit/{query}").status_code == 200


def test_the_page_names_no_one_for_system_events(auditor_client):
    record_event(action=Action.CHECKED)
    assert "Desk Connect" in auditor_client.get("/staff/audit/").content.decode()


def test_a_day_deep_in_the_past_shows_exactly_that_day(auditor_client):
    base = datetime(2025, 1, 1, 6, tzinfo=UTC)
    AuditEvent.objects.bulk_create(
        AuditEvent(action=Action.CHECKED, created_at=base + timedelta(hours=n)) for n in range(48)
    )
    record_event(action=Action.CHECKED)  # today
    response = auditor_client.get("/staff/audit/?date_from=2025-01-02&date_to=2025-01-02")
    assert seqs(response) == list(range(42, 18, -1))
