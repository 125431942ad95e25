"""Rate limits counted in PostgreSQL: log-in, password reset, the API (the OAuth callback's is
OA-25 in tests/security/test_oauth_flow.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import RateCounter
from accounts.ratelimit import allow

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_clock():
    """Fixed windows split at their boundaries: keep every test inside one window."""
    import time_machine

    start = timezone.now().replace(minute=1, second=0, microsecond=0)
    with time_machine.travel(start, tick=False):
        yield


def test_allow_counts_per_key_and_window():
    key_a, key_b = "test:a", "test:b"
    assert all(allow(key_a, limit=3, window=timedelta(minutes=1)) for _ in range(3))
    assert not allow(key_a, limit=3, window=timedelta(minutes=1))
    assert allow(key_b, limit=3, window=timedelta(minutes=1))
    assert RateCounter.objects.get(key=key_a).hits == 4


def test_a_new_window_starts_afresh():
    import time_machine

    for _ in range(4):
        allow("test:w", limit=3, window=timedelta(minutes=1))
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        assert allow("test:w", limit=3, window=timedelta(minutes=1))


def test_login_brute_force_is_throttled_with_a_generic_answer(client, alice, settings):
    limit = settings.LOGIN_FAILURES_PER_ACCOUNT
    answers = [
        client.post("/accounts/login/", {"username": "alice@example.com", "password": f"no{n}"})
        for n in range(limit + 1)
    ]
    assert [a.status_code for a in answers[:limit]] == [200] * limit
    assert answers[limit].status_code == 429
    assert "Too many attempts" in answers[limit].content.decode()
    assert "alice" not in answers[limit].content.decode()


def test_forged_forwarded_for_does_not_evade_the_limit(client, alice):
    for n in range(21):
        response = client.post(
            "/accounts/login/",
            {"username": "alice@example.com", "password": "wrong"},
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}",
        )
    assert response.status_code == 429


def test_admin_login_is_throttled_too(client):
    for _ in range(21):
        response = client.post("/admin/login/", {"username": "x@example.com", "password": "no"})
    assert response.status_code == 429


def test_api_requests_without_a_valid_key_are_throttled(client):
    statuses = [
        client.get("/api/v1/grants", HTTP_AUTHORIZATION="Bearer nope").status_code
        for _ in range(31)
    ]
    assert statuses[:30] == [401] * 30 and statuses[30] == 429
