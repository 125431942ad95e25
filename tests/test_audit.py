"""The audit log: one writer, no secrets, and no changes once written."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from accounts.audit import AuditContext, list_events, record_event
from accounts.deactivation import deactivate_user
from accounts.models import AuditEvent
from accounts.profile import set_alert_emails

pytestmark = pytest.mark.django_db


def test_record_event_stores_actor_and_detail(alice):
    event = record_event(action=AuditEvent.Action.CONNECTED, actor=alice, detail={"dc": "eu"})
    assert event.actor_id == alice.pk
    assert event.actor_repr == "alice@example.com"
    assert list(list_events(actor_id=alice.pk)) == [event]


def test_deleting_a_user_keeps_their_audit_rows(alice):
    record_event(action=AuditEvent.Action.CONNECTED, actor=alice)
    alice.delete()
    assert AuditEvent.objects.filter(actor_repr="alice@example.com").count() == 1


def test_record_event_names_the_grants_owner(alice, bob, make_grant):
    grant = make_grant()
    event = record_event(action=AuditEvent.Action.REFRESHED, actor=bob, grant=grant)
    assert (event.owner_id, event.owner_repr) == (alice.pk, "alice@example.com")
    assert list(list_events(owner_id=alice.pk)) == [event]
    assert list(list_events(owner_id=bob.pk)) == []
    without_grant = record_event(action=AuditEvent.Action.ALERT_EMAILS_CHANGED, actor=alice)
    assert (without_grant.owner_id, without_grant.owner_repr) == (None, "")


def test_the_admin_lists_the_chain_and_owner_but_changes_nothing(client, alice, make_grant):
    from accounts.models import User

    admin = User.objects.create_superuser("root@example.com", "x-very-long-password-1")
    client.force_login(admin)
    event = record_event(action=AuditEvent.Action.REFRESHED, actor=alice, grant=make_grant())
    page = client.get("/admin/accounts/auditevent/").content.decode()
    assert "alice@example.com" in page and "grant.refreshed" in page
    assert 'class="field-seq"' in page and 'class="field-owner_repr"' in page
    change = client.get(f"/admin/accounts/auditevent/{event.pk}/change/").content.decode()
    assert event.hash in change and 'type="submit" value="Save"' not in change
    assert client.get("/admin/accounts/auditevent/add/").status_code == 403
    client.post(f"/admin/accounts/auditevent/{event.pk}/delete/", {"post": "yes"})
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_audit_context_from_a_request_takes_its_user_address_and_user_agent(alice):
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.4", HTTP_USER_AGENT="x" * 400)
    request.user = alice
    assert AuditContext.from_request(request) == AuditContext(alice, "192.0.2.4", "x" * 300)
    request.user = AnonymousUser()
    assert AuditContext.from_request(request).actor is None


def test_services_called_with_a_context_and_no_request_record_its_address(alice, staff):
    context = AuditContext(actor=staff, ip_address="192.0.2.9", user_agent="ops-script/1")
    set_alert_emails(user=alice, enabled=not alice.has_alert_emails, context=context)
    deactivate_user(user_id=alice.pk, reason="left the company", context=context)
    events = list(list_events().filter(ip_address="192.0.2.9"))
    assert [event.action for event in events] == [
        AuditEvent.Action.USER_DEACTIVATED,
        AuditEvent.Action.ALERT_EMAILS_CHANGED,
    ]
    assert {event.user_agent for event in events} == {"ops-script/1"}
    # The preference's owner is its actor; deactivation's actor is the context's.
    assert [event.actor_id for event in events] == [staff.pk, alice.pk]
