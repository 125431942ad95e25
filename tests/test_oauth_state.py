"""Pending authorization requests: bound to user and session, single use, short-lived."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from portal.grants import oauth_state
from portal.models import PendingAuthorization

pytestmark = pytest.mark.django_db


def start(user, session="session-a"):
    return oauth_state.create_pending(user_id=user.pk, session_key=session, region="global")


def test_state_and_verifier_are_random_and_only_digests_are_stored(alice):
    state, verifier = start(alice)
    assert len(state) >= 43 and 43 <= len(verifier) <= 128
    row = PendingAuthorization.objects.get()
    assert state not in row.state_digest and verifier.encode() not in row.code_verifier_encrypted


def test_consume_returns_the_verifier_once(alice):
    state, verifier = start(alice)
    pending = oauth_state.consume_pending(user_id=alice.pk, session_key="session-a", state=state)
    assert pending.code_verifier == verifier
    assert verifier not in repr(pending)
    with pytest.raises(oauth_state.StateError, match="used"):
        oauth_state.consume_pending(user_id=alice.pk, session_key="session-a", state=state)


@pytest.mark.parametrize("state", ["", "x" * 500])
def test_missing_or_oversized_state_is_refused(alice, state):
    with pytest.raises(oauth_state.StateError):
        oauth_state.consume_pending(user_id=alice.pk, session_key="session-a", state=state)


def test_state_of_another_user_is_refused(alice, bob):
    state, _ = start(bob, session="same")
    with pytest.raises(oauth_state.StateError, match="unknown"):
        oauth_state.consume_pending(user_id=alice.pk, session_key="same", state=state)


def test_expired_state_is_refused_and_used_up(alice):
    state, _ = start(alice)
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        with pytest.raises(oauth_state.StateError, match="expired"):
            oauth_state.consume_pending(user_id=alice.pk, session_key="session-a", state=state)
    with pytest.raises(oauth_state.StateError, match="used"):
        oauth_state.consume_pending(user_id=alice.pk, session_key="session-a", state=state)


def test_parallel_flows_each_keep_their_own_state(alice):
    first, v1 = start(alice)
    second, v2 = start(alice)
    assert (
        oauth_state.consume_pending(
            user_id=alice.pk, session_key="session-a", state=second
        ).code_verifier
        == v2
    )
    assert (
        oauth_state.consume_pending(
            user_id=alice.pk, session_key="session-a", state=first
        ).code_verifier
        == v1
    )


def test_only_the_newest_unused_requests_are_kept(alice):
    states = [start(alice)[0] for _ in range(oauth_state.MAX_PENDING_PER_USER + 3)]
    assert (
        PendingAuthorization.objects.filter(user=alice).count() == oauth_state.MAX_PENDING_PER_USER
    )
    with pytest.raises(oauth_state.StateError):
        oauth_state.consume_pending(user_id=alice.pk, session_key="session-a", state=states[0])
