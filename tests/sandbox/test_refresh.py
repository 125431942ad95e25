"""Refresh and Zoho's token limits (reference §5)."""

from datetime import timedelta

import time_machine
from django.utils import timezone

from tests.sandbox.conftest import EU_ZUID, TOKEN_SHAPE, US_ZUID

ACCESS_DENIED = {
    "error": "Access Denied",
    "error_description": "You have made too many requests continuously. "
    "Please try again after some time.",
    "status": "failure",
}


def test_refresh_answers_a_new_access_token_and_no_refresh_token(zoho):
    tokens = zoho.connect(EU_ZUID)
    body = zoho.refresh("eu", tokens["refresh_token"])
    assert list(body) == ["access_token", "api_domain", "token_type", "expires_in"]
    assert TOKEN_SHAPE.match(body["access_token"])
    assert body["access_token"] != tokens["access_token"]
    assert body["api_domain"] == "https://www.zohoapis.eu"
    assert body["expires_in"] == 3600
    assert zoho.desk("eu", "organizations", body["access_token"]).status_code == 200
    assert zoho.desk("eu", "organizations", tokens["access_token"]).status_code == 200


def test_refresh_rejections_are_invalid_code(zoho):
    tokens = zoho.connect(EU_ZUID)
    assert zoho.refresh("eu", "1000.nope.nope") == {"error": "invalid_code"}
    assert zoho.refresh("eu", tokens["access_token"]) == {"error": "invalid_code"}
    assert zoho.refresh("us", tokens["refresh_token"]) == {"error": "invalid_code"}
    assert zoho.refresh("eu", tokens["refresh_token"], client_secret="x") == {
        "error": "invalid_client_secret"
    }


def test_refresh_token_of_another_client_is_invalid_code(zoho):
    zoho.control(
        "clients",
        {"client_id": "1000.B", "client_secret": "b", "redirect_uris": ["https://b.example/"]},
    )
    tokens = zoho.connect(EU_ZUID)
    answer = zoho.refresh("eu", tokens["refresh_token"], client_id="1000.B", client_secret="b")
    assert answer == {"error": "invalid_code"}


def test_ten_access_tokens_per_refresh_token_per_ten_minutes(zoho):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        tokens = zoho.connect(EU_ZUID)
        for _ in range(10):
            assert "access_token" in zoho.refresh("eu", tokens["refresh_token"])
            traveller.shift(timedelta(seconds=30))
        assert zoho.refresh("eu", tokens["refresh_token"]) == ACCESS_DENIED
        other = zoho.connect(EU_ZUID)  # the limit is per refresh token
        assert "access_token" in zoho.refresh("eu", other["refresh_token"])
        traveller.shift(timedelta(seconds=301))  # the first refresh leaves the window
        assert "access_token" in zoho.refresh("eu", tokens["refresh_token"])
        assert zoho.refresh("eu", tokens["refresh_token"]) == ACCESS_DENIED
    record = zoho.records(endpoint="refresh")
    assert [r["error"] for r in record].count("Access Denied") == 2


def test_the_twenty_first_refresh_token_evicts_the_oldest(zoho):
    grants = [zoho.connect(EU_ZUID)["refresh_token"] for _ in range(21)]
    assert zoho.refresh("eu", grants[0]) == {"error": "invalid_code"}
    assert all("access_token" in zoho.refresh("eu", token) for token in grants[1:3])
    states = zoho.control("grants", {"zuid": EU_ZUID}, method="get").json()["grants"]
    assert [g["active"] for g in states].count(True) == 20
    assert states[-1]["revoked_reason"] == "evicted"


def test_the_limit_counts_per_user(zoho):
    for _ in range(20):
        zoho.connect(EU_ZUID)
    mine = zoho.connect(US_ZUID)
    zoho.connect(EU_ZUID)
    assert "access_token" in zoho.refresh("us", mine["refresh_token"])


def test_access_token_lifetime_is_configurable_and_expiry_is_enforced(zoho):
    zoho.control("settings", {"access_token_lifetime": 60})
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        tokens = zoho.connect(EU_ZUID)
        assert tokens["expires_in"] == 60
        traveller.shift(timedelta(seconds=59))
        assert zoho.desk("eu", "organizations", tokens["access_token"]).status_code == 200
        traveller.shift(timedelta(seconds=2))
        expired = zoho.desk("eu", "organizations", tokens["access_token"])
        assert expired.status_code == 401
        assert expired.json()["errorCode"] == "INVALID_OAUTH"
        assert zoho.refresh("eu", tokens["refresh_token"])["expires_in"] == 60


def test_refresh_tokens_do_not_expire(zoho):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        tokens = zoho.connect(EU_ZUID)
        traveller.shift(timedelta(days=400))
        assert "access_token" in zoho.refresh("eu", tokens["refresh_token"])
