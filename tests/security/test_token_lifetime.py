"""Never claim a token lives longer than Zoho said: short lifetimes are kept as given, and a
token shorter than the caller's ``min_valid`` is handed out with its true expiry instead of
being refreshed again for every caller."""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.models import AuditEvent
from portal.grants import tokens
from tests.api_calls import post_token
from tests.connecting import refreshes

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_two_second_token_is_handed_out_as_two_seconds_and_refreshed_once(
    client, expired, service_key, sandbox
):
    sandbox.set_access_token_lifetime(2)
    with time_machine.travel(timezone.now(), tick=False):  # both calls in the same second
        asked = timezone.now()
        first = post_token(client, expired, service_key)
        second = post_token(client, expired, service_key)
    assert first.status_code == second.status_code == 200
    expires_at = datetime.fromisoformat(first.json()["expires_at"])
    assert asked < expires_at <= asked + timedelta(seconds=2)  # Zoho's 2 s, not a minute
    assert second.json()["expires_at"] == first.json()["expires_at"]
    assert second.json()["access_token"] == first.json()["access_token"]
    assert len(refreshes(sandbox)) == 1
    assert AuditEvent.objects.filter(action="grant.refreshed").count() == 1


def test_the_service_hands_a_short_token_to_a_caller_asking_for_longer(expired, sandbox):
    sandbox.set_access_token_lifetime(5)
    with time_machine.travel(timezone.now(), tick=False):
        asked = timezone.now()
        first = tokens.get_access_token(grant_id=expired.pk, min_valid=timedelta(minutes=5))
        second = tokens.get_access_token(grant_id=expired.pk, min_valid=timedelta(minutes=5))
    assert first.refreshed and not second.refreshed
    assert second.access_token == first.access_token
    assert first.expires_at == second.expires_at <= asked + timedelta(seconds=5)
    assert len(refreshes(sandbox)) == 1


def test_an_expired_short_token_is_refreshed_again(expired, sandbox):
    sandbox.set_access_token_lifetime(2)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        first = tokens.get_access_token(grant_id=expired.pk)
        traveller.shift(timedelta(seconds=3))
        second = tokens.get_access_token(grant_id=expired.pk)
    assert first.refreshed and second.refreshed
    assert second.access_token != first.access_token
    assert len(refreshes(sandbox)) == 2
