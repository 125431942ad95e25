"""Staff user pages: the list with grant counts, deactivation (sessions end, tokens stop)."""

import json
import re

import pytest
from django.test import Client

from accounts.models import AuditEvent, User, UserSession
from portal.api.keys import create_service_key
from portal.grants import tokens
from portal.upkeep.sweeps import due_for_check
from tests.staff_permissions import assert_permission_matrix, client_for, give

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(make_user):
    user = make_user("manager@example.com", is_staff=True)
    give(user, "manage_users")
    return user


def deactivate(client, user, reason="left the company", **extra):
    return client.post(
        f"/staff/users/{user.pk}/deactivate/", {"reason": reason, "confirm": "1", **extra}
    )


def test_every_user_page_needs_manage_users(alice, bob, staff, make_user):
    assert_permission_matrix(
        method="get", url="/staff/users/", codename="manage_users",
        alice=alice, staff=staff, make_user=make_user,
    )  # fmt: skip
    for action in ("deactivate", "reactivate"):
        assert_permission_matrix(
            method="post", url=f"/staff/users/{bob.pk}/{action}/", codename="manage_users",
            alice=alice, staff=staff, make_user=make_user,
        )  # fmt: skip
    bob.refresh_from_db()
    assert bob.is_active  # the first post only asks for a reason


def test_actions_are_post_only_with_csrf(manager, bob):
    assert client_for(manager).get(f"/staff/users/{bob.pk}/deactivate/").status_code == 405
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    assert deactivate(client, bob).status_code == 403
    bob.refresh_from_db()
    assert bob.is_active


def test_list_shows_users_with_grant_counts(manager, alice, bob, make_grant):
    make_grant()
    make_grant(zoho_user_id="2", status="revoked")
    body = client_for(manager).get("/staff/users/").content.decode()
    row = body[body.index("alice@example.com") :]
    assert "2 / 2" not in row[:600] and "1 / 2" in row[:600]
    bob_row = body[body.index("bob@example.com") :]
    assert "0 / 0" in bob_row[:600]
    searched = client_for(manager).get("/staff/users/", {"q": "BOB"}).content.decode()
    assert "bob@example.com" in searched and "alice@example.com" not in searched


def test_list_pages_by_keyset_with_constant_queries(manager, make_user, make_grant,
                                                   django_assert_max_num_queries):  # fmt: skip
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(manager)
    for number in range(3):
        make_grant(user=User.objects.create(email=f"u{number:03d}@example.com"), zoho_user_id="1")
    with CaptureQueriesContext(connection) as few:
        client.get("/staff/users/")
    for number in range(3, 130):
        make_grant(user=User.objects.create(email=f"u{number:03d}@example.com"), zoho_user_id="1")
    with django_assert_max_num_queries(len(few)):
        body = client.get("/staff/users/").content.decode()
    seen = re.findall(r"<bdi>(u\d{3}@example\.com)</bdi></a>", body)
    url = "/staff/users/"
    while (link := re.search(r'<a href="(\?[^"]*)" rel="next">', body)) is not None:
        url = f"/staff/users/{link.group(1).replace('&amp;', '&')}"
        body = client.get(url).content.decode()
        seen += re.findall(r"<bdi>(u\d{3}@example\.com)</bdi></a>", body)
    assert seen == [f"u{number:03d}@example.com" for number in range(130)]
    bad = client.get("/staff/users/?cursor=garbage")
    assert bad.status_code == 400 and "page link is not valid" in bad.content.decode()


def test_deactivation_needs_a_reason_and_spares_yourself(manager, bob):
    client = client_for(manager)
    first = client.post(f"/staff/users/{bob.pk}/deactivate/")
    assert first.status_code == 200 and "Reason" in first.content.decode()
    for reason in ("", "x" * 501, "\x1b[31mred"):
        assert deactivate(client, bob, reason).status_code == 400
    own = client.post(
        f"/staff/users/{manager.pk}/deactivate/",
        {"reason": "oops", "confirm": "1"},
        follow=True,
    )
    assert "cannot deactivate your own account" in own.content.decode()
    bob.refresh_from_db()
    manager.refresh_from_db()
    assert bob.is_active and manager.is_active
    assert not AuditEvent.objects.filter(action="user.deactivated").exists()


def test_SC_11_deactivation_ends_sessions_stops_tokens_and_reactivation_restores(
    manager, alice, make_grant
):
    grant = make_grant()
    raw_key = create_service_key(name="desk app")[1]
    api = Client()
    owner_phone, owner_laptop = client_for(alice), client_for(alice)
    assert owner_phone.get("/connections/").status_code == 200
    assert UserSession.objects.filter(user_id=alice.pk).count() == 2

    def token_status():
        response = api.post(
            f"/api/v1/grants/{grant.pk}/access-token",
            data=json.dumps({}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {raw_key}",
        )
        return response.status_code, response.json().get("code")

    assert token_status() == (200, None)
    response = deactivate(client_for(manager), alice, "account sharing", is_active="1")
    assert response.status_code == 302
    alice.refresh_from_db()
    assert not alice.is_active
    assert not UserSession.objects.filter(user_id=alice.pk).exists()
    for device in (owner_phone, owner_laptop):
        gone = device.get("/connections/")
        assert gone.status_code == 302 and "/accounts/login/" in gone["Location"]
    assert token_status() == (409, "user_inactive")
    with pytest.raises(tokens.GrantInactive) as refused:
        tokens.get_access_token(grant_id=grant.pk)
    assert refused.value.code == "user_inactive"
    with pytest.raises(tokens.GrantInactive):
        tokens.get_access_token(grant_id=grant.pk, force_refresh=True)
    assert grant.pk not in set(due_for_check(now=grant.created_at).values_list("pk", flat=True))
    from django.utils import timezone

    assert not due_for_check(now=timezone.now()).filter(pk=grant.pk).exists()
    event = AuditEvent.objects.get(action="user.deactivated")
    assert event.actor_id == manager.pk and event.detail == {
        "user_id": alice.pk,
        "user": "alice@example.com",
        "reason": "account sharing",
        "sessions": 2,
    }
    reactivated = client_for(manager).post(
        f"/staff/users/{alice.pk}/reactivate/", {"reason": "resolved", "confirm": "1"}
    )
    assert reactivated.status_code == 302
    assert token_status() == (200, None)
    assert tokens.get_access_token(grant_id=grant.pk).access_token == make_grant.access_token
    assert due_for_check(now=timezone.now()).filter(pk=grant.pk).exists()
    assert AuditEvent.objects.get(action="user.reactivated").detail["reason"] == "resolved"
    assert client_for(User.objects.get(pk=alice.pk)).get("/connections/").status_code == 200


def test_sessions_record_their_user(client, alice, password):
    assert client.post("/accounts/login/", {"username": alice.email, "password": password})
    assert UserSession.objects.filter(user_id=alice.pk).count() == 1
    client.post("/accounts/logout/")
    assert not UserSession.objects.filter(user_id=alice.pk).exists()
