"""The secret purge never forgets a token Zoho may still honour: revoke first, then wipe.

A grant Needs reconnect for longer than the retention period is condemned, but its refresh
token may still be live at Zoho (Needs reconnect proves only that one refresh failed). Over
real HTTP against the sandbox.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from portal.models import ZohoGrant
from portal.upkeep import sweeps
from tests.cast import EU

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def condemned(connected):
    """Alice's real grant (its token live at the sandbox), Needs reconnect for 31 days."""
    ZohoGrant.objects.filter(pk=connected.pk).update(
        status="needs_reconnect", status_changed_at=timezone.now() - timedelta(days=31)
    )
    return ZohoGrant.objects.get(pk=connected.pk)


def live_tokens(sandbox):
    return [grant for grant in sandbox.grants(zuid=EU) if grant["active"]]


def revokes(sandbox):
    return [r for r in sandbox.requests(zuid=EU) if r["endpoint"] == "revoke"]


def test_TS_11_purge_revokes_the_token_at_zoho_before_wiping_it(sandbox, condemned):
    assert len(live_tokens(sandbox)) == 1
    assert sweeps.purge_stale_secrets() == 1
    assert [r["status"] for r in revokes(sandbox)] == [200]
    assert live_tokens(sandbox) == []
    condemned.refresh_from_db()
    assert condemned.refresh_token_encrypted is None and condemned.access_token_encrypted is None
    assert condemned.status == "needs_reconnect"
    event = AuditEvent.objects.get(grant_id=condemned.pk, action="grant.secrets_purged")
    assert event.detail["zoho"] == "confirmed"


def test_UP_08_purge_keeps_the_ciphertext_when_zoho_cannot_revoke_and_retries_next_run(
    sandbox, condemned
):
    before = bytes(condemned.refresh_token_encrypted)
    sandbox.add_fault("status", endpoint="revoke", status=503)
    assert sweeps.purge_stale_secrets() == 0
    condemned.refresh_from_db()
    assert bytes(condemned.refresh_token_encrypted) == before  # NO-LOSS
    assert len(live_tokens(sandbox)) == 1
    failed = AuditEvent.objects.get(grant_id=condemned.pk, action="grant.revoke_failed")
    assert failed.outcome == "failure" and failed.detail["by"] == "secrets purge"
    assert not AuditEvent.objects.filter(action="grant.secrets_purged").exists()

    sandbox.clear_faults()
    assert sweeps.purge_stale_secrets() == 1
    assert live_tokens(sandbox) == []
    condemned.refresh_from_db()
    assert condemned.refresh_token_encrypted is None
    assert [r["status"] for r in revokes(sandbox)] == [503, 200]


def test_UP_09_a_token_zoho_no_longer_knows_counts_as_revoked_by_the_purge(sandbox, condemned):
    sandbox.revoke_user_grants(EU)  # the user removed the app in Zoho's Connected Apps
    assert sweeps.purge_stale_secrets() == 1
    assert [r["status"] for r in revokes(sandbox)] == [400]
    condemned.refresh_from_db()
    assert condemned.refresh_token_encrypted is None
