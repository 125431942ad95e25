"""The profile page: owners turn the Needs-reconnect emails off and on."""

import pytest

from accounts.models import AuditEvent, User

pytestmark = pytest.mark.django_db


def stored_alert_emails(user: User) -> bool:
    """The user's choice as the database holds it now."""
    user.refresh_from_db()
    return user.has_alert_emails


def test_profile_page_turns_alert_emails_off_and_on(client, alice):
    client.force_login(alice)
    assert 'name="has_alert_emails"' in client.get("/accounts/profile/").content.decode()
    response = client.post("/accounts/profile/", {})
    assert response.status_code == 302
    assert stored_alert_emails(alice) is False
    client.post("/accounts/profile/", {"has_alert_emails": "on"})
    assert stored_alert_emails(alice) is True
    changes = AuditEvent.objects.filter(action="user.alert_emails_changed", actor_id=alice.pk)
    assert [event.detail for event in changes.order_by("id")] == [
        {"enabled": False},
        {"enabled": True},
    ]


def test_profile_needs_a_login(client):
    response = client.get("/accounts/profile/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
