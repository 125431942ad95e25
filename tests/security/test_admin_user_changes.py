"""SC-06 and AC-03: every change staff make to an account in the Django admin is AUDITED.

Through the real admin pages with the test client: switching an account off (the owner is
signed out at once and their grants hand out nothing) or back on, creating an account, and
changing staff or superuser status, groups and permissions. Each leaves one audit row naming
the staff member, the account and what changed, and no password.
"""

import json

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client

from accounts.admin import ADMIN_REASON
from accounts.models import AuditEvent, User, UserSession
from portal.api.keys import create_service_key
from tests.leaks import assert_no_leak
from tests.staff_permissions import client_for

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a-brand-new-staff-password-9137"


@pytest.fixture
def admin(make_user) -> User:
    user: User = make_user("admin@example.com", is_staff=True, is_superuser=True)
    return user


def change_in_admin(
    admin: User, user: User, *, active=True, staff=False, superuser=False, groups=(), permissions=()
) -> Client:
    """Post the user's admin change form with these access values; the form must save."""
    data = {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "groups": [group.pk for group in groups],
        "user_permissions": [perm.pk for perm in permissions],
    }
    for name, on in (("is_active", active), ("is_staff", staff), ("is_superuser", superuser)):
        if on:
            data[name] = "on"
    browser = client_for(admin)
    response = browser.post(f"/admin/accounts/user/{user.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    return browser


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def test_SC_06_deactivating_in_the_admin_signs_the_owner_out_stops_tokens_and_is_audited(
    admin, alice, make_grant
):
    grant = make_grant()
    raw_key = create_service_key(name="desk app")[1]
    owner = client_for(alice)
    assert owner.get("/connections/").status_code == 200

    def token_status() -> tuple[int, str | None]:
        response = Client().post(
            f"/api/v1/grants/{grant.pk}/access-token",
            data=json.dumps({}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {raw_key}",
        )
        return response.status_code, response.json().get("code")

    assert token_status() == (200, None)
    change_in_admin(admin, alice, active=False)
    alice.refresh_from_db()
    assert not alice.is_active
    assert not UserSession.objects.filter(user_id=alice.pk).exists()
    gone = owner.get("/connections/")
    assert gone.status_code == 302 and "/accounts/login/" in gone["Location"]
    assert token_status() == (409, "user_inactive")
    [off] = events("user.deactivated")
    assert (off.actor_id, off.actor_repr) == (admin.pk, admin.email)
    assert off.detail == {
        "user_id": alice.pk,
        "user": alice.email,
        "reason": ADMIN_REASON,
        "sessions": 1,
    }

    change_in_admin(admin, alice, active=True)
    assert token_status() == (200, None)
    [on] = events("user.reactivated")
    assert on.actor_id == admin.pk and on.detail["user"] == alice.email
    assert not events("user.access_changed")  # switching on and off is not an access change


def test_SC_06_the_admin_cannot_switch_off_their_own_account(admin):
    browser = change_in_admin(admin, admin, active=False, staff=True, superuser=True)
    admin.refresh_from_db()
    assert admin.is_active
    assert "cannot deactivate your own account" in browser.get("/admin/").content.decode()
    assert not events("user.deactivated")


def test_AC_03_staff_status_superuser_groups_and_permissions_changes_are_audited(admin, bob):
    support = Group.objects.create(name="Support")
    perm = Permission.objects.get(codename="view_all_grants", content_type__app_label="portal")
    change_in_admin(admin, bob, staff=True, superuser=True, groups=[support], permissions=[perm])
    change_in_admin(admin, bob, staff=True)  # the same again, minus superuser, group, permission
    change_in_admin(admin, bob, staff=True)  # nothing changes: nothing recorded

    granted, withdrawn = events("user.access_changed")
    assert granted.actor_id == admin.pk and granted.actor_repr == admin.email
    assert granted.detail == {
        "user_id": bob.pk,
        "user": bob.email,
        "is_staff": {"from": False, "to": True},
        "is_superuser": {"from": False, "to": True},
        "groups": {"added": ["Support"], "removed": []},
        "permissions": {"added": ["portal.view_all_grants"], "removed": []},
    }
    assert withdrawn.detail == {
        "user_id": bob.pk,
        "user": bob.email,
        "is_superuser": {"from": True, "to": False},
        "groups": {"added": [], "removed": ["Support"]},
        "permissions": {"added": [], "removed": ["portal.view_all_grants"]},
    }


def test_AC_03_creating_a_staff_account_in_the_admin_is_audited_without_its_password(admin):
    response = client_for(admin).post(
        "/admin/accounts/user/add/",
        {"email": "newstaff@example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    created = User.objects.get(email="newstaff@example.com")
    change_in_admin(admin, created, staff=True)

    [made] = events("user.created")
    assert made.actor_id == admin.pk
    assert made.detail == {
        "user_id": created.pk,
        "user": "newstaff@example.com",
        "is_staff": False,
        "is_superuser": False,
    }
    [promoted] = events("user.access_changed")
    assert promoted.detail["is_staff"] == {"from": False, "to": True}
    rows = json.dumps(list(AuditEvent.objects.values("detail", "actor_repr", "user_agent")))
    assert "pbkdf2" not in rows and "argon2" not in rows
    assert_no_leak([NEW_PASSWORD, created.password], rows)


def test_AC_03_a_groups_permissions_changed_or_deleted_in_the_admin_are_audited(admin, bob):
    support = Group.objects.create(name="Support")
    bob.groups.add(support)
    revoke = Permission.objects.get(codename="revoke_any_grant", content_type__app_label="portal")
    browser = client_for(admin)
    url = f"/admin/auth/group/{support.pk}/"
    assert (
        browser.post(f"{url}change/", {"name": "Support", "permissions": [revoke.pk]}).status_code
        == 302
    )
    assert browser.post(f"{url}delete/", {"post": "yes"}).status_code == 302

    changed, deleted = events("group.permissions_changed")
    assert changed.actor_id == admin.pk
    assert changed.detail == {
        "group": "Support",
        "members": 1,
        "added": ["portal.revoke_any_grant"],
        "removed": [],
        "deleted": False,
    }
    assert deleted.detail == {
        "group": "Support",
        "members": 1,
        "added": [],
        "removed": ["portal.revoke_any_grant"],
        "deleted": True,
    }
