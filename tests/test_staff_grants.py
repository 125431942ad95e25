"""Staff grant pages: who may open them, search and keyset pages, detail, revoke any grant."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEvent, User
from portal.models import REFRESHED_SORT_KEY, ZohoGrant
from portal.staff.grant_search import SORTS
from tests.jobs import run_jobs
from tests.leaks import assert_no_leak
from tests.staff_permissions import assert_permission_matrix, client_for, give

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(staff):
    give(staff, "view_all_grants")
    return staff


@pytest.fixture
def revoker(make_user):
    user = make_user("revoker@example.com", is_staff=True)
    give(user, "view_all_grants", "revoke_any_grant")
    return user


def grant_ids(body: str) -> list[str]:
    return re.findall(r'href="/staff/grants/([0-9a-f-]{36})/"', body)


def next_link(body: str) -> str | None:
    match = re.search(r'<a href="(\?[^"]*)" rel="next">', body)
    return match.group(1).replace("&amp;", "&") if match else None


# -- who may open what ---------------------------------------------------------------------


def test_grant_list_and_detail_need_view_all_grants(alice, staff, make_user, make_grant):
    grant = make_grant()
    for url in ("/staff/grants/", f"/staff/grants/{grant.pk}/"):
        assert_permission_matrix(
            method="get", url=url, codename="view_all_grants",
            alice=alice, staff=staff, make_user=make_user,
        )  # fmt: skip


def test_revoke_needs_revoke_any_grant_and_post(alice, staff, make_user, make_grant):
    grant = make_grant()
    assert_permission_matrix(
        method="post", url="/staff/grants/revoke/", codename="revoke_any_grant",
        alice=alice, staff=staff, make_user=make_user, data={"grant": str(grant.pk)},
    )  # fmt: skip
    holder = make_user("holder-2@example.com", is_staff=True)
    give(holder, "revoke_any_grant")
    assert client_for(holder).get("/staff/grants/revoke/").status_code == 405
    grant.refresh_from_db()
    assert grant.status == "active"  # the first post only asks for confirmation


def test_revoke_enforces_csrf(revoker, make_grant):
    grant = make_grant()
    client = Client(enforce_csrf_checks=True)
    client.force_login(revoker)
    data = {"grant": str(grant.pk), "reason": "abuse", "confirm": "1"}
    assert client.post("/staff/grants/revoke/", data).status_code == 403
    grant.refresh_from_db()
    assert grant.status == "active"


def test_checkboxes_only_for_who_may_revoke(viewer, revoker, make_grant):
    make_grant()
    assert 'name="grant"' not in client_for(viewer).get("/staff/grants/").content.decode()
    assert 'name="grant"' in client_for(revoker).get("/staff/grants/").content.decode()


# -- the list: search, filters, sorting, pages ---------------------------------------------


@pytest.mark.parametrize("cap", [2000, 0])  # 0: every search takes the broad path
def test_search_finds_by_owner_zoho_email_organization_and_id(
    viewer, make_grant, bob, cap, monkeypatch
):
    monkeypatch.setattr("portal.staff.grant_search.SEARCH_ID_CAP", cap)
    mine = make_grant(organizations=[{"id": "70000042", "name": "Acme Helpdesk"}])
    bobs = make_grant(user=bob, zoho_user_id="2", zoho_email="Support@Bobcorp.example")
    client = client_for(viewer)
    for q, expected in [
        ("ALICE@", [mine]),
        ("bob", [bobs]),
        ("support@bobcorp", [bobs]),
        ("acme", [mine]),
        ("helpdesk", [mine]),
        ("70000042", [mine]),
        (str(bobs.pk), [bobs]),
        ("nobody-here", []),
        ("100%_\\", []),
    ]:
        body = client.get("/staff/grants/", {"q": q}).content.decode()
        assert grant_ids(body) == [str(g.pk) for g in expected], q


def test_filters_narrow_the_list(viewer, make_grant):
    now = timezone.now()
    old = make_grant(zoho_user_id="1", data_centre="us", status="needs_reconnect")
    ZohoGrant.objects.filter(pk=old.pk).update(
        created_at=now - timedelta(days=30), last_refreshed_at=now - timedelta(days=20)
    )
    warned = make_grant(zoho_user_id="2", warning="token_cap")
    client = client_for(viewer)

    def ids(**params):
        return grant_ids(client.get("/staff/grants/", params).content.decode())

    assert ids(status="needs_reconnect") == [str(old.pk)]
    assert ids(dc="us") == [str(old.pk)]
    assert ids(warning="any") == [str(warned.pk)]
    assert ids(warning="token_cap") == [str(warned.pk)]
    assert ids(warning="none") == [str(old.pk)]
    day = (now - timedelta(days=10)).date().isoformat()
    assert ids(created_before=day) == [str(old.pk)]
    assert ids(created_after=day) == [str(warned.pk)]
    assert ids(refreshed_before=day) == [str(old.pk)]
    assert ids(refreshed_after=day) == [str(warned.pk)]


@pytest.mark.parametrize(
    "params",
    [
        {"status": "bogus"},
        {"dc": "mars"},
        {"sort": "password"},
        {"refreshed_after": "yesterday"},
        {"created_after": "2026-02-02", "created_before": "2026-01-01"},
        {"cursor": "not-a-cursor"},
        {"q": "x" * 300},
        {"q": "bad\x00byte"},
        {"q": "\x1b[31mred"},
    ],
)
def test_invalid_parameters_get_a_clear_error_not_a_500(viewer, make_grant, params):
    make_grant()
    response = client_for(viewer).get("/staff/grants/", params)
    assert response.status_code == 400
    body = response.content.decode()
    assert "Some search values are not valid" in body and 'class="error"' in body


def test_a_cursor_from_another_sort_is_refused(viewer, make_grant):
    for number in range(55):
        make_grant(zoho_user_id=str(number))
    client = client_for(viewer)
    link = next_link(client.get("/staff/grants/").content.decode())
    assert link is not None
    cursor = re.search(r"cursor=([^&]+)", link)
    assert cursor is not None
    response = client.get(f"/staff/grants/?sort=owner&cursor={cursor.group(1)}")
    assert response.status_code == 400 and "page link is not valid" in response.content.decode()


@pytest.mark.parametrize("sort", list(SORTS))
def test_keyset_pages_walk_every_grant_once_in_order(viewer, make_grant, make_user, sort):
    now = timezone.now()
    owners = [User.objects.create(email=f"owner{n}@example.com") for n in range(3)]
    statuses = ["active", "trouble", "needs_reconnect", "revoked"]
    for number in range(120):
        grant = make_grant(
            user=owners[number % 3], zoho_user_id=str(number), status=statuses[number % 4]
        )
        refreshed = None if number % 7 == 0 else now - timedelta(minutes=number % 13)
        ZohoGrant.objects.filter(pk=grant.pk).update(
            created_at=now - timedelta(seconds=number // 2), last_refreshed_at=refreshed
        )
    client = client_for(viewer)
    seen: list[str] = []
    url: str | None = f"/staff/grants/?sort={sort}"
    while url:
        body = client.get(url).content.decode()
        seen += grant_ids(body)
        link = next_link(body)
        url = f"/staff/grants/{link}" if link else None
    assert len(seen) == 120 and len(set(seen)) == 120
    key = {
        "-created": lambda g: (g.created_at, g.pk),
        "created": lambda g: (g.created_at, g.pk),
        "-last_refreshed": lambda g: (g.refreshed, g.pk),
        "last_refreshed": lambda g: (g.refreshed, g.pk),
        "owner": lambda g: (g.user.email, g.pk),
        "status": lambda g: (g.status, g.created_at, g.pk),
    }[sort]
    grants = ZohoGrant.objects.select_related("user").annotate(refreshed=REFRESHED_SORT_KEY)
    expected = sorted(grants, key=key, reverse=sort.startswith("-"))
    assert seen == [str(g.pk) for g in expected]


def _count_queries(client, url, django_assert_max_num_queries) -> int:
    from django.db import connection as conn
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(conn) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("url", ["/staff/grants/", "/staff/grants/?q=agent&sort=owner"])
def test_list_query_count_does_not_grow_with_the_data(
    revoker, make_grant, make_user, url, django_assert_max_num_queries
):
    client = client_for(revoker)
    for number in range(3):
        make_grant(user=User.objects.create(email=f"few{number}@example.com"), zoho_user_id="1")
    few = _count_queries(client, url, django_assert_max_num_queries)
    for number in range(3, 30):
        make_grant(user=User.objects.create(email=f"many{number}@example.com"), zoho_user_id="1")
    with django_assert_max_num_queries(few):
        response = client.get(url)
    assert len(grant_ids(response.content.decode())) == 30


# -- one grant -------------------------------------------------------------------------------


def test_detail_shows_metadata_and_full_history_but_no_token(viewer, make_grant):
    grant = make_grant(display_name="<script>alert(1)</script>")
    for number in range(60):
        AuditEvent.objects.create(
            action="grant.tested", grant_id=grant.pk, detail={"n": number}, actor_repr="x"
        )
    client = client_for(viewer)
    body = client.get(f"/staff/grants/{grant.pk}/").content.decode()
    assert "alice@example.com" in body and "Example Support" in body and "20000001" in body
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body
    assert body.count("grant.tested") == 50
    older = re.search(r'href="(\?cursor=[^"]+)" rel="next"', body)
    assert older is not None
    rest = client.get(f"/staff/grants/{grant.pk}/{older.group(1)}").content.decode()
    assert rest.count("grant.tested") == 10
    stored_token = ZohoGrant.objects.get(pk=grant.pk).refresh_token_encrypted
    assert stored_token is not None
    ciphertext = bytes(stored_token).decode()
    assert ciphertext not in body
    assert_no_leak([make_grant.refresh_token, make_grant.access_token], body, rest)


def test_detail_links_to_the_audit_log_only_for_who_may_read_it(viewer, make_grant, make_user):
    grant, other = make_grant(), make_grant(zoho_user_id="2")
    AuditEvent.objects.create(action="grant.tested", grant_id=grant.pk, grant_repr="this grant")
    AuditEvent.objects.create(action="grant.tested", grant_id=other.pk, grant_repr="other grant")
    link = f'href="/staff/audit/?grant={grant.pk}"'
    assert link not in client_for(viewer).get(f"/staff/grants/{grant.pk}/").content.decode()
    auditor = make_user("auditor@example.com", is_staff=True)
    give(auditor, "view_all_grants", "view_audit_log")
    body = client_for(auditor).get(f"/staff/grants/{grant.pk}/").content.decode()
    assert link in body
    events = client_for(auditor).get(f"/staff/audit/?grant={grant.pk}")
    assert events.status_code == 200
    assert "this grant" in events.content.decode() and "other grant" not in events.content.decode()


def test_detail_of_an_unknown_grant_is_404(viewer):
    url = "/staff/grants/00000000-0000-0000-0000-000000000000/"
    assert client_for(viewer).get(url).status_code == 404


# -- revoking any grant ---------------------------------------------------------------------


def test_first_post_confirms_and_a_reason_is_required(revoker, make_grant):
    grant = make_grant(organizations=[{"id": "1", "name": "<b>Org</b>"}])
    client = client_for(revoker)
    confirm = client.post("/staff/grants/revoke/", {"grant": str(grant.pk)})
    body = confirm.content.decode()
    assert confirm.status_code == 200 and "Revoke 1 grant?" in body
    assert "&lt;b&gt;Org&lt;/b&gt;" in body and "alice@example.com" in body
    for reason in ("", "   ", "x" * 501, "fine\x1b[2Jbut escaped"):
        data = {"grant": str(grant.pk), "confirm": "1", "reason": reason}
        response = client.post("/staff/grants/revoke/", data)
        assert response.status_code == 400 and 'class="error"' in response.content.decode()
    grant.refresh_from_db()
    assert grant.status == "active"
    assert not AuditEvent.objects.filter(grant_id=grant.pk).exists()


@pytest.mark.parametrize(
    "ids",
    [
        ["not-a-uuid"],
        ["00000000-0000-0000-0000-000000000000"],
        [],
    ],
)
def test_unknown_or_missing_ids_revoke_nothing(revoker, make_grant, ids):
    grant = make_grant()
    data = {"grant": [str(grant.pk), *ids] if ids else [], "reason": "x", "confirm": "1"}
    response = client_for(revoker).post("/staff/grants/revoke/", data)
    assert response.status_code == 400
    assert "Nothing" in response.content.decode()
    grant.refresh_from_db()
    assert grant.status == "active"


def test_more_than_the_cap_is_refused(revoker, make_grant):
    grant = make_grant()
    data = {"grant": [str(grant.pk)] + [f"00000000-0000-0000-0000-{n:012d}" for n in range(100)]}
    response = client_for(revoker).post("/staff/grants/revoke/", data)
    assert response.status_code == 400 and "at most 100" in response.content.decode()


def test_mass_assignment_is_ignored(revoker, make_grant, bob, settings):
    settings.SANDBOX_BASE_URL = "http://127.0.0.1:9/sandbox"  # nothing listens: Zoho is down
    grant = make_grant()
    data = {
        "grant": str(grant.pk),
        "reason": "policy",
        "confirm": "1",
        "status": "active",
        "user": str(bob.pk),
        "owner": str(bob.pk),
        "actor": "someone-else@example.com",
        "is_staff": "1",
        "refresh_token": "1000.ffff.eeee",
    }
    assert client_for(revoker).post("/staff/grants/revoke/", data).status_code == 303
    run_jobs()
    grant.refresh_from_db()
    assert grant.user_id != bob.pk and grant.status in ("revoking", "revoked")
    event = AuditEvent.objects.get(grant_id=grant.pk, action="grant.revoke_requested")
    assert event.actor_repr == "revoker@example.com" and set(event.detail) == {
        "reason",
        "by_staff",
        "owner_id",
        "owner",
    }
    bob.refresh_from_db()
    assert not bob.is_staff


def test_detail_query_count_does_not_grow_with_the_history(
    viewer, make_grant, django_assert_max_num_queries
):
    from django.test.utils import CaptureQueriesContext

    grant = make_grant()
    client = client_for(viewer)

    def add_events(count):
        AuditEvent.objects.bulk_create(
            AuditEvent(action="grant.checked", grant_id=grant.pk) for _ in range(count)
        )

    add_events(3)
    with CaptureQueriesContext(connection) as few:
        client.get(f"/staff/grants/{grant.pk}/")
    add_events(200)
    with django_assert_max_num_queries(len(few)):
        body = client.get(f"/staff/grants/{grant.pk}/").content.decode()
    assert body.count("grant.checked") == 50
