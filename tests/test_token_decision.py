"""The one token decision: hand out, refresh or refuse, from a snapshot and the time given.

Pure: no database, no clock. Every caller (the API's hot path, the token service's hot read
and its locked re-check, the owner's refresh button) goes through these rules.
"""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from portal.grants import token_decision, tokens
from portal.grants.token_decision import Decision, Force, GrantSnapshot, Verdict, decide

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
MARGIN = tokens.REFRESH_MARGIN
FRESH = GrantSnapshot(
    status="active",
    owner_is_active=True,
    access_token_expires_at=NOW + timedelta(hours=1),
    has_access_token=True,
    last_refreshed_at=NOW - timedelta(minutes=10),
)
HAND_OUT = Decision(Verdict.HAND_OUT)
REFRESH = Decision(Verdict.REFRESH)


def refuse(code, retry_after=None):
    return Decision(Verdict.REFUSE, code, retry_after)


CASES = [
    # (why, snapshot changes, force, asked_at, expected)
    ("fresh token is handed out", {}, Force.NO, None, HAND_OUT),
    ("trouble still hands out a fresh token", {"status": "trouble"}, Force.NO, None, HAND_OUT),
    (
        "token inside the margin is refreshed",
        {"access_token_expires_at": NOW + MARGIN},
        Force.NO,
        None,
        REFRESH,
    ),
    (
        "expired token is refreshed",
        {"access_token_expires_at": NOW - timedelta(seconds=1)},
        Force.NO,
        None,
        REFRESH,
    ),
    ("no expiry is refreshed", {"access_token_expires_at": None}, Force.NO, None, REFRESH),
    (
        "a short-lived token refreshed this minute is handed out, not refreshed again",
        {
            "access_token_expires_at": NOW + timedelta(seconds=2),
            "last_refreshed_at": NOW - timedelta(seconds=1),
        },
        Force.NO,
        None,
        HAND_OUT,
    ),
    (
        "a short-lived token refreshed this minute but expired is refreshed",
        {"access_token_expires_at": NOW, "last_refreshed_at": NOW - timedelta(seconds=2)},
        Force.NO,
        None,
        REFRESH,
    ),
    (
        "a short-lived token refreshed over a minute ago is refreshed",
        {
            "access_token_expires_at": NOW + timedelta(seconds=30),
            "last_refreshed_at": NOW - token_decision.FORCE_REFRESH_INTERVAL,
        },
        Force.NO,
        None,
        REFRESH,
    ),
    ("no ciphertext is refreshed", {"has_access_token": False}, Force.NO, None, REFRESH),
    (
        "inactive owner is refused",
        {"owner_is_active": False},
        Force.NO,
        None,
        refuse("user_inactive"),
    ),
    (
        "inactive owner wins over the status",
        {"owner_is_active": False, "status": "revoked"},
        Force.NO,
        None,
        refuse("user_inactive"),
    ),
    (
        "needs reconnect is refused",
        {"status": "needs_reconnect"},
        Force.NO,
        None,
        refuse("needs_reconnect"),
    ),
    ("revoking is refused", {"status": "revoking"}, Force.ASKED, None, refuse("revoking")),
    ("revoked is refused", {"status": "revoked"}, Force.REJECTED, None, refuse("revoked")),
    ("forced refresh of a fresh token", {}, Force.ASKED, None, REFRESH),
    (
        "forced refresh of a never refreshed grant",
        {"last_refreshed_at": None},
        Force.ASKED,
        None,
        REFRESH,
    ),
    (
        "forced refresh within the minute is refused with a wait",
        {"last_refreshed_at": NOW - timedelta(seconds=20)},
        Force.ASKED,
        None,
        refuse("refresh_too_soon", 41),
    ),
    (
        "forced refresh just after the last one waits the whole minute",
        {"last_refreshed_at": NOW},
        Force.ASKED,
        None,
        refuse("refresh_too_soon", 61),
    ),
    (
        "forced refresh a minute later goes ahead",
        {"last_refreshed_at": NOW - token_decision.FORCE_REFRESH_INTERVAL},
        Force.ASKED,
        None,
        REFRESH,
    ),
    (
        "a rejected token is replaced whatever the minute",
        {"last_refreshed_at": NOW - timedelta(seconds=5)},
        Force.REJECTED,
        None,
        REFRESH,
    ),
    (
        "a refresh made while this caller waited for the lock is shared",
        {"last_refreshed_at": NOW - timedelta(seconds=1)},
        Force.ASKED,
        NOW - timedelta(seconds=2),
        HAND_OUT,
    ),
    (
        "shared also for a rejected token",
        {"last_refreshed_at": NOW - timedelta(seconds=1)},
        Force.REJECTED,
        NOW - timedelta(seconds=2),
        HAND_OUT,
    ),
    (
        "a refresh from before the caller asked is not shared",
        {"last_refreshed_at": NOW - timedelta(seconds=3)},
        Force.REJECTED,
        NOW - timedelta(seconds=2),
        REFRESH,
    ),
    (
        "a shared refresh without a usable token is refreshed again",
        {"last_refreshed_at": NOW - timedelta(seconds=1), "has_access_token": False},
        Force.REJECTED,
        NOW - timedelta(seconds=2),
        REFRESH,
    ),
]


@pytest.mark.parametrize(
    ("changes", "force", "asked_at", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_decide(changes, force, asked_at, expected):
    grant = replace(FRESH, **changes)
    assert decide(grant, now=NOW, min_valid=MARGIN, force=force, asked_at=asked_at) == expected


def test_min_valid_is_the_callers_margin():
    grant = replace(FRESH, access_token_expires_at=NOW + timedelta(minutes=30))
    assert decide(grant, now=NOW, min_valid=timedelta(minutes=29), force=Force.NO) == HAND_OUT
    assert decide(grant, now=NOW, min_valid=timedelta(minutes=30), force=Force.NO) == REFRESH


def test_refusals_become_the_services_exceptions():
    too_soon = tokens.refusal(refuse("refresh_too_soon", 12))
    assert isinstance(too_soon, tokens.RefreshTooSoon) and too_soon.retry_after == 12
    assert too_soon.code == "refresh_too_soon"
    inactive = tokens.refusal(refuse("revoked"))
    assert isinstance(inactive, tokens.GrantInactive) and inactive.code == "revoked"
