"""The staff page on the background upkeep."""

import pytest
from django.contrib.auth.models import Permission

from accounts.audit import record_event
from accounts.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(staff):
    staff.user_permissions.add(Permission.objects.get(codename="view_all_grants"))
    return staff


def test_staff_see_tasks_queue_and_check_outcomes(client, viewer, make_grant):
    grant = make_grant()
    record_event(action=AuditEvent.Action.CHECKED, grant=grant)
    record_event(
        action=AuditEvent.Action.CHECK_FAILED, grant=grant, detail={"status": "needs_reconnect"}
    )
    client.force_login(viewer)
    body = client.get("/staff/upkeep/").content.decode()
    for task in ("portal.check_due_grants", "portal.finish_revocations", "portal.purge_secrets"):
        assert task in body
    assert "never run" in body
    assert "<dt>Grants checked and healthy</dt><dd>1</dd>" in body
    assert "<dt>Failed, now Needs reconnect</dt><dd>1</dd>" in body
    assert "<dt>Active</dt><dd>1</dd>" in body


def test_the_page_needs_the_permission(client, staff, alice):
    assert client.get("/staff/upkeep/").status_code == 302  # anonymous: log in first
    client.force_login(alice)
    assert client.get("/staff/upkeep/").status_code == 404  # not staff: no such page
    client.force_login(staff)
    assert client.get("/staff/upkeep/").status_code == 403  # staff without the permission
