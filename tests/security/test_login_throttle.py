"""SC-09, DP-11: log-in throttling counts failures only, per account and per client address.

One attacker must not be able to lock everyone out: successful log-ins never use the budget,
a forged X-Forwarded-For lands on the sender's own address, and the account's bucket stops
guesses however many addresses they come from. Site and admin login are throttled alike.
"""

import logging
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEvent
from tests.leaks import assert_no_leak

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
ATTACKER = "203.0.113.66"
PROXY = "10.0.0.1"


@pytest.fixture(autouse=True)
def frozen_clock():
    """Fixed 15-minute windows split at their boundaries: keep every test inside one."""
    start = timezone.now().replace(minute=1, second=0, microsecond=0)
    with time_machine.travel(start, tick=False):
        yield


@pytest.fixture(autouse=True)
def fast_hashes(settings):
    """Only the throttle is under test here; a cheap hasher keeps dozens of log-ins quick."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def log_in(email: str, password: str, *, url: str = LOGIN, **meta: Any) -> int:
    """One log-in POST from a fresh browser; its status code (302 = signed in)."""
    meta.setdefault("REMOTE_ADDR", ATTACKER)
    return Client().post(url, {"username": email, "password": password}, **meta).status_code


def test_SC_09_wrong_passwords_lock_the_account_not_the_address(alice, bob, password):
    statuses = [log_in("alice@example.com", f"wrong-{n}") for n in range(20)]
    assert statuses == [200] * 10 + [429] * 10
    # The right password is refused too while the account is locked.
    assert log_in("ALICE@example.com ", password) == 429
    # Other accounts from the same address still get in.
    assert log_in("bob@example.com", password) == 302
    # Once the window is over, so is the lock.
    with time_machine.travel(timezone.now() + timedelta(minutes=15)):
        assert log_in("alice@example.com", password) == 302


def test_SC_09_one_address_trying_many_accounts_is_stopped(bob, password, settings):
    settings.LOGIN_FAILURES_PER_ADDRESS = 5
    statuses = [log_in(f"user{n}@example.com", "guess") for n in range(6)]
    assert statuses == [200] * 5 + [429]
    assert log_in("bob@example.com", password) == 429
    assert log_in("bob@example.com", password, REMOTE_ADDR="198.51.100.9") == 302


def test_SC_09_guesses_spread_over_addresses_behind_a_trusted_proxy_still_lock_it(
    alice, password, settings
):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    statuses = [
        log_in(
            "alice@example.com", "wrong", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}"
        )
        for n in range(12)
    ]
    assert statuses == [200] * 10 + [429] * 2
    addresses = set(AuditEvent.objects.values_list("ip_address", flat=True))
    assert addresses == {f"198.51.100.{n}" for n in range(10)}
    # Everyone else behind the same proxy keeps logging in: they are not one bucket.
    assert log_in("alice@example.com", password, REMOTE_ADDR=PROXY) == 429


def test_SC_09_everyone_behind_one_proxy_is_not_one_bucket(alice, bob, password, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.LOGIN_FAILURES_PER_ADDRESS = 5
    for n in range(6):
        log_in(f"user{n}@example.com", "guess", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=ATTACKER)
    assert (
        log_in("bob@example.com", password, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=ATTACKER) == 429
    )
    assert (
        log_in("bob@example.com", password, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.4")
        == 302
    )


def test_SC_09_forged_forwarded_for_neither_evades_nor_frames(bob, password, settings):
    settings.LOGIN_FAILURES_PER_ADDRESS = 5
    statuses = [
        log_in(f"user{n}@example.com", "guess", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
        for n in range(6)
    ]
    assert statuses == [200] * 5 + [429]  # no evasion: every hit landed on REMOTE_ADDR
    assert set(AuditEvent.objects.values_list("ip_address", flat=True)) == {ATTACKER}
    # No framing: the addresses named in the forged header log in untouched.
    assert log_in("bob@example.com", password, REMOTE_ADDR="198.51.100.1") == 302


def test_SC_09_successful_logins_never_use_the_budget(alice, password):
    assert [log_in("alice@example.com", password) for _ in range(30)] == [302] * 30
    # And they do not wipe an attacker's failures either.
    statuses = [log_in("alice@example.com", "wrong") for _ in range(11)]
    assert statuses == [200] * 10 + [429]


def test_DP_11_admin_login_is_throttled_like_the_site_login(staff, password):
    statuses = [log_in("staff@example.com", "wrong", url=ADMIN_LOGIN) for _ in range(5)]
    statuses += [log_in("staff@example.com", "wrong") for _ in range(5)]
    assert statuses == [200] * 10
    assert log_in("staff@example.com", password, url=ADMIN_LOGIN) == 429
    assert log_in("staff@example.com", password) == 429


def test_SC_09_the_answer_does_not_tell_whether_the_account_exists(alice):
    for email in ("alice@example.com", "nobody@example.com"):
        answers = [
            Client().post(LOGIN, {"username": email, "password": "wrong"}, REMOTE_ADDR=ATTACKER)
            for _ in range(11)
        ]
        assert [a.status_code for a in answers] == [200] * 10 + [429]
        assert "correct email" in answers[0].content.decode()
        assert "Too many attempts" in answers[10].content.decode()
        assert "wait 14 minutes" in answers[10].content.decode()
        assert answers[10]["Retry-After"] == str(14 * 60)


def test_SC_09_failed_logins_are_audited_with_the_client_address(alice):
    log_in("Alice@Example.com", "wrong", HTTP_USER_AGENT="attack-bot/1.0")
    log_in("nobody@example.com", "wrong")
    known, unknown = AuditEvent.objects.filter(action="user.login_failed").order_by("seq")
    assert known.outcome == "failure" and known.actor_id is None and known.actor_repr == ""
    assert known.ip_address == ATTACKER and known.user_agent == "attack-bot/1.0"
    assert known.detail == {"email": "alice@example.com", "reason": "wrong email or password"}
    assert set(unknown.detail) == {"email_digest", "reason"}


def test_SC_09_no_password_in_logs_or_audit_rows(alice, caplog):
    caplog.set_level(logging.DEBUG)
    typed = "Tr0ub4dor&3-typed-password"
    in_the_email_field = "correct-horse-in-email-field"
    log_in("alice@example.com", typed)
    log_in(in_the_email_field, "whatever-else")
    assert AuditEvent.objects.filter(action="user.login_failed").count() == 2
    assert_no_leak([typed, in_the_email_field], caplog.text)
