"""AC: who may see and change what, and an audit log nobody can rewrite (checklist, section C)."""

import re
import uuid

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.test import Client
from django.urls import reverse

from accounts.audit import AuditDetailError, record_event
from accounts.models import AuditEvent, User
from portal.models import ZohoGrant
from tests.cast import EU
from tests.connecting import grant_rows

pytestmark = pytest.mark.django_db(transaction=True)
CONNECTIONS = reverse("portal:connections")
SIGNUP = reverse("accounts:signup")


def test_AC_02_another_users_grant_page_is_404(portal, bob, alice):
    portal.connect(EU)
    grant = ZohoGrant.objects.get(user=alice)
    other = Client()
    other.force_login(bob)
    assert other.get(f"/connections/{grant.pk}/").status_code == 404


def test_AC_10_revoke_through_the_api_stops_hand_out(api, sandbox):
    client, grant = api
    response = client.post(f"/grants/{grant.pk}/revoke")
    assert response.status_code == 200 and response.json()["grant_status"] == "revoked"
    token = client.post(f"/grants/{grant.pk}/access-token")
    assert token.status_code == 409 and token.json()["code"] == "revoked"
    assert client.get(f"/grants/{grant.pk}").json()["status"] == "revoked"


def test_AC_10_revoke_asks_for_confirmation_then_revokes_and_wipes(portal, sandbox, connected):
    confirm = portal.client.get(f"/connections/{connected.pk}/revoke/").content.decode()
    assert "stops receiving access tokens" in confirm and "Revoke connection" in confirm
    response = portal.client.post(f"/connections/{connected.pk}/revoke/", follow=True)
    assert "Revoked. Zoho confirmed" in response.content.decode()
    connected.refresh_from_db()
    assert connected.status == "revoked" and connected.revoked_at
    assert connected.refresh_token_encrypted is None and connected.access_token_encrypted is None
    assert [r["endpoint"] for r in sandbox.requests()].count("revoke") == 1
    assert not [g for g in sandbox.grants(zuid=EU) if g["active"]]
    actions = set(AuditEvent.objects.filter(grant_id=connected.pk).values_list("action", flat=True))
    assert {"grant.revoke_requested", "grant.revoked"} <= actions


@pytest.mark.parametrize("action", ["test", "refresh", "reconnect", "revoke", "hide"])
def test_AC_02_another_users_grant_is_404_for_every_action(connected, bob, action):
    other = Client()
    other.force_login(bob)
    assert other.post(f"/connections/{connected.pk}/{action}/").status_code == 404
    assert other.get(f"/connections/{connected.pk}/").status_code == 404
    connected.refresh_from_db()
    assert connected.status == "active"


@pytest.mark.django_db
def test_AC_09_admin_grant_pages_show_no_token_material(client, make_grant, make_user):
    admin = make_user("root@example.com", is_staff=True, is_superuser=True)
    grant = make_grant()
    client.force_login(admin)
    for url in (
        "/admin/portal/zohogrant/",
        f"/admin/portal/zohogrant/{grant.pk}/change/",
    ):
        page = client.get(url)
        assert page.status_code == 200
        body = page.content.decode()
        assert "encrypted" not in body.lower()
        assert make_grant.refresh_token not in body


@pytest.mark.django_db
def test_AC_06_admin_cannot_change_or_delete_audit_events(client, make_user):
    from accounts.audit import record_event
    from accounts.models import AuditEvent

    admin = make_user("root@example.com", is_staff=True, is_superuser=True)
    event = record_event(action=AuditEvent.Action.CONNECTED, actor=admin)
    client.force_login(admin)
    assert client.get(f"/admin/accounts/auditevent/{event.pk}/change/").status_code == 200
    response = client.post(f"/admin/accounts/auditevent/{event.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["refresh_token", "client_secret", "code", "state", "verifier"])
def test_AC_07_record_event_refuses_detail_that_may_hold_secrets(key):
    with pytest.raises(AuditDetailError):
        record_event(action=AuditEvent.Action.CONNECTED, detail={key: "x"})


@pytest.mark.django_db
def test_AC_06_audit_rows_cannot_be_updated_or_deleted_through_the_orm(alice):
    event = record_event(action=AuditEvent.Action.CONNECTED, actor=alice)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(outcome="failure")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        event.delete()


@pytest.mark.django_db
def test_AC_06_audit_rows_cannot_be_changed_with_raw_sql(alice):
    event = record_event(action=AuditEvent.Action.CONNECTED, actor=alice)
    for statement in (
        "UPDATE accounts_auditevent SET action = 'x' WHERE id = %s",
        "DELETE FROM accounts_auditevent WHERE id = %s",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == AuditEvent.Action.CONNECTED


@pytest.mark.django_db
def test_AC_04_signup_ignores_extra_fields(client):
    client.post(
        SIGNUP,
        {
            "email": "mallory@example.com",
            "password1": "a-long-unusual-passphrase-7",
            "password2": "a-long-unusual-passphrase-7",
            "is_staff": "on",
            "is_superuser": "on",
        },
    )
    user = User.objects.get(email="mallory@example.com")
    assert not user.is_staff and not user.is_superuser


@pytest.mark.django_db
def test_AC_08_names_and_reasons_are_shown_encoded_and_cut(auditor_client, make_user, make_grant):
    sneaky = make_user("sneaky@example.com")
    grant = make_grant(
        user=sneaky, zoho_email="x\r\nFAKE LOG LINE\x1b[31m<script>alert(1)</script>"
    )
    long_reason = "\u202egnp.exe " + "A" * 10_000
    record_event(
        action=AuditEvent.Action.REVOKE_REQUESTED,
        actor=sneaky,
        grant=grant,
        detail={"reason": long_reason},
    )
    page = auditor_client.get("/staff/audit/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
    assert "\x1b" not in page and "\r\nFAKE" not in page and "\u202e" not in page
    assert "\\r\\nFAKE LOG LINE\\x1b[31m" in page and "\\u202egnp.exe" in page
    assert "A" * 300 not in page and "A" * 150 + "…" in page


def unnonced(page: bytes) -> bytes:
    """The page without what differs on every render: the CSP nonce and the masked CSRF token."""
    return re.sub(rb'(nonce|name="csrfmiddlewaretoken" value)="[^"]*"', b"", page)


@pytest.mark.django_db(transaction=True)
def test_AC_01_revoking_another_users_grant_is_the_same_404_as_no_grant(
    connected, alice, bob, sandbox
):
    """Bob, signed in with a valid CSRF token, posts revoke for Alice's grant: the answer is the
    404 an unknown id gets, Zoho hears nothing, and Alice's grant is byte-identical (NO-LOSS)."""
    before = grant_rows(user=alice)
    calls_before = len(sandbox.requests())
    attacker = Client(enforce_csrf_checks=True)
    attacker.force_login(bob)
    attacker.get(CONNECTIONS)  # Bob's own CSRF cookie
    token = {"csrfmiddlewaretoken": attacker.cookies[settings.CSRF_COOKIE_NAME].value}
    theirs = attacker.post(f"/connections/{connected.pk}/revoke/", token)
    unknown = attacker.post(f"/connections/{uuid.uuid4()}/revoke/", token)
    assert theirs.status_code == unknown.status_code == 404
    assert unnonced(theirs.content) == unnonced(unknown.content)  # the same page
    assert grant_rows(user=alice) == before
    assert len(sandbox.requests()) == calls_before
    assert not AuditEvent.objects.filter(grant_id=connected.pk, action__startswith="grant.revok")
    # The failed authorization is audited (once: the unknown id is no one's grant), by Bob,
    # outside Alice's own history (it would show her Bob's email).
    [refused] = AuditEvent.objects.filter(action=AuditEvent.Action.ACCESS_REFUSED)
    assert (refused.actor_id, refused.outcome, refused.grant_id) == (bob.pk, "failure", None)
    assert refused.detail == {"grant_id": str(connected.pk)}
