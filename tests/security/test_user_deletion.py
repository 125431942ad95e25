"""Deleting a user revokes their Zoho tokens first, and never drops one that may be live.

Over real HTTP against the sandbox, through the Django admin (single delete and "delete
selected"), the worker, and the ORM.
"""

from datetime import timedelta

import pytest
import time_machine
from django.db.models import ProtectedError
from django.utils import timezone

from accounts.models import AuditEvent, User
from portal.grants import user_deletion
from portal.models import ZohoGrant
from portal.upkeep import sweeps
from tests.cast import EU
from tests.staff_permissions import client_for, give

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def superuser(make_user):
    return make_user("root@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def live_tokens(sandbox):
    return [grant for grant in sandbox.grants(zuid=EU) if grant["active"]]


def revoke_statuses(sandbox):
    return [r["status"] for r in sandbox.requests() if r["endpoint"] == "revoke"]


def grant_actions(grant_id):
    events = AuditEvent.objects.filter(grant_id=grant_id).order_by("seq")
    return [(e.action, e.detail.get("zoho"), e.detail.get("reason")) for e in events]


def test_admin_delete_revokes_the_users_grant_at_zoho_then_deletes_and_audits(
    sandbox, connected, alice, superuser, admin_client
):
    page = admin_client.get(f"/admin/accounts/user/{alice.pk}/delete/")
    assert page.status_code == 200 and b"Cannot delete" not in page.content
    assert b"1 revoked at Zoho first" in page.content
    assert len(live_tokens(sandbox)) == 1

    answer = admin_client.post(f"/admin/accounts/user/{alice.pk}/delete/", {"post": "yes"})

    assert answer.status_code == 302
    assert revoke_statuses(sandbox) == [200]
    assert live_tokens(sandbox) == []
    assert not User.objects.filter(pk=alice.pk).exists()
    assert not ZohoGrant.objects.filter(pk=connected.pk).exists()
    assert grant_actions(connected.pk)[-2:] == [
        ("grant.revoke_requested", None, "user deleted"),
        ("grant.revoked", "confirmed", None),
    ]
    deleted = AuditEvent.objects.get(action="user.deleted")
    assert (deleted.actor_id, deleted.actor_repr) == (superuser.pk, "root@example.com")
    assert deleted.detail["user"] == "alice@example.com"
    assert deleted.detail["grants_revoked"] == 1
    requested = AuditEvent.objects.get(action="user.deletion_requested")
    assert requested.actor_id == superuser.pk and requested.seq < deleted.seq


def test_admin_delete_selected_goes_through_the_same_service(
    sandbox, connected, alice, bob, make_grant, admin_client
):
    bobs = make_grant(user=bob, zoho_user_id="20000009", status="needs_reconnect")
    selected = {"action": "delete_selected", "_selected_action": [alice.pk, bob.pk]}
    confirm = admin_client.post("/admin/accounts/user/", selected)
    assert confirm.status_code == 200 and b"Cannot delete" not in confirm.content

    answer = admin_client.post("/admin/accounts/user/", {**selected, "post": "yes"})

    assert answer.status_code == 302
    # Alice's live token is revoked; Bob's (Needs reconnect, unknown to Zoho: 400) counts too.
    assert sorted(revoke_statuses(sandbox)) == [200, 400]
    assert live_tokens(sandbox) == []
    assert not User.objects.filter(pk__in=[alice.pk, bob.pk]).exists()
    assert not ZohoGrant.objects.filter(pk__in=[connected.pk, bobs.pk]).exists()
    assert AuditEvent.objects.filter(action="user.deleted").count() == 2


def test_with_zoho_down_the_token_is_kept_and_the_user_deleted_only_after_zoho_confirms(
    sandbox, connected, alice, admin_client
):
    before = bytes(connected.refresh_token_encrypted)
    sandbox.add_fault("status", endpoint="revoke", status=503)

    answer = admin_client.post(f"/admin/accounts/user/{alice.pk}/delete/", {"post": "yes"})

    assert answer.status_code == 302
    alice.refresh_from_db()
    assert not alice.is_active and alice.deletion_requested_at is not None
    connected.refresh_from_db()
    assert connected.status == "revoking"  # no token handed out from here on
    assert bytes(connected.refresh_token_encrypted) == before  # NO-LOSS
    assert len(live_tokens(sandbox)) == 1
    assert user_deletion.finish_pending_deletions() == 0
    assert not AuditEvent.objects.filter(action="user.deleted").exists()

    sandbox.clear_faults()
    with time_machine.travel(timezone.now() + timedelta(minutes=10)):
        assert sweeps.finish_pending_revocations()["revoked"] == 1
        assert user_deletion.finish_pending_deletions() == 1

    assert live_tokens(sandbox) == []
    assert not User.objects.filter(pk=alice.pk).exists()
    deleted = AuditEvent.objects.get(action="user.deleted")
    assert deleted.actor_id is None and deleted.detail["grants_revoked"] == 1
    assert "requested_at" in deleted.detail


def test_a_plain_orm_delete_of_a_user_with_a_grant_refuses(make_grant, alice):
    grant = make_grant()
    before = bytes(grant.refresh_token_encrypted)
    with pytest.raises(ProtectedError):
        alice.delete()
    grant.refresh_from_db()
    assert grant.status == "active" and bytes(grant.refresh_token_encrypted) == before
    assert User.objects.filter(pk=alice.pk).exists()


def test_staff_cannot_delete_their_own_account_this_way(sandbox, superuser, admin_client):
    answer = admin_client.post(f"/admin/accounts/user/{superuser.pk}/delete/", {"post": "yes"})
    assert answer.status_code == 302
    superuser.refresh_from_db()
    assert superuser.is_active and superuser.deletion_requested_at is None


def test_admin_delete_still_requires_the_csrf_token(sandbox, connected, alice, superuser):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(superuser)
    answer = strict.post(f"/admin/accounts/user/{alice.pk}/delete/", {"post": "yes"})
    assert answer.status_code == 403
    assert User.objects.get(pk=alice.pk).is_active
    assert revoke_statuses(sandbox) == []


def test_a_user_pending_deletion_cannot_be_reactivated_from_the_staff_pages(
    sandbox, connected, alice, admin_client, make_user
):
    manager = make_user("manager@example.com", is_staff=True)
    give(manager, "manage_users")
    sandbox.add_fault("status", endpoint="revoke", status=503)
    admin_client.post(f"/admin/accounts/user/{alice.pk}/delete/", {"post": "yes"})
    staff_page = client_for(manager)

    listing = staff_page.get("/staff/users/?q=alice").content.decode()
    assert "being deleted" in listing and f"/staff/users/{alice.pk}/reactivate/" not in listing
    answer = staff_page.post(
        f"/staff/users/{alice.pk}/reactivate/",
        {"reason": "asked to come back", "confirm": "1"},
        follow=True,
    )

    page = answer.content.decode()
    assert "is being deleted" in page and "cannot be reactivated" in page
    alice.refresh_from_db()
    assert not alice.is_active and alice.deletion_requested_at is not None
    assert not AuditEvent.objects.filter(action="user.reactivated").exists()
    sandbox.clear_faults()  # the deletion goes on as confirmed
    with time_machine.travel(timezone.now() + timedelta(minutes=10)):
        assert sweeps.finish_pending_revocations()["revoked"] == 1
        assert user_deletion.finish_pending_deletions() == 1
    assert not User.objects.filter(pk=alice.pk).exists()
