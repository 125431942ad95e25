"""Staff set the app's external id on a user (audited, one permission) and search by it."""

import pytest

from accounts.models import AuditEvent, User
from tests.staff_permissions import assert_permission_matrix, client_for, give

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(make_user):
    user = make_user("manager@example.com", is_staff=True)
    give(user, "manage_users", "view_all_grants")
    return user


def test_the_external_id_page_needs_manage_users(alice, bob, staff, make_user):
    for method in ("get", "post"):
        assert_permission_matrix(
            method=method, url=f"/staff/users/{bob.pk}/external-id/", codename="manage_users",
            alice=alice, staff=staff, make_user=make_user, ok=(200, 302, 400),
        )  # fmt: skip
    bob.refresh_from_db()
    assert bob.external_id is None  # the posts without the permission changed nothing


def test_staff_set_change_and_clear_an_external_id_audited(manager, bob):
    client = client_for(manager)
    url = f"/staff/users/{bob.pk}/external-id/"
    assert client.post(url, {"external_id": "cust-7"}).status_code == 302
    assert User.objects.get(pk=bob.pk).external_id == "cust-7"
    client.post(url, {"external_id": ""})
    assert User.objects.get(pk=bob.pk).external_id is None
    events = AuditEvent.objects.filter(action="user.external_id_changed").order_by("seq")
    assert [(e.actor_id, e.detail["previous"], e.detail["external_id"]) for e in events] == [
        (manager.pk, None, "cust-7"),
        (manager.pk, "cust-7", None),
    ]


@pytest.mark.parametrize("value", ["x" * 201, "cust\x07", "   "])
def test_staff_cannot_set_an_invalid_or_taken_external_id(manager, alice, bob, value):
    User.objects.filter(pk=alice.pk).update(external_id="taken")
    client = client_for(manager)
    for wanted in (value, "taken"):
        response = client.post(f"/staff/users/{bob.pk}/external-id/", {"external_id": wanted})
        assert response.status_code == 400
    assert User.objects.get(pk=bob.pk).external_id is None
    assert not AuditEvent.objects.filter(action="user.external_id_changed").exists()


def test_staff_find_users_and_grants_by_external_id(manager, alice, bob, make_grant):
    User.objects.filter(pk=bob.pk).update(external_id="Cust-8")
    grant = make_grant(user=bob)
    make_grant()  # Alice's, which must not match
    client = client_for(manager)
    users = client.get("/staff/users/", {"q": "Cust-8"})
    assert [row.id for row in users.context["page"].rows] == [bob.pk]
    grants = client.get("/staff/grants/", {"q": "Cust-8"})
    assert [row.row.id for row in grants.context["page"].rows] == [grant.pk]
