"""The code exchange at the token endpoint (reference §4)."""

import base64
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from tests.sandbox.conftest import EU_ZUID, SCOPE, TOKEN_SHAPE, US_ZUID, VERIFIER


def test_exchange_answers_zoho_fields(zoho):
    callback = zoho.consent("us", EU_ZUID)
    body = zoho.exchange(callback)
    assert list(body) == [
        "access_token",
        "refresh_token",
        "scope",
        "api_domain",
        "token_type",
        "expires_in",
    ]
    assert TOKEN_SHAPE.match(body["access_token"]) and TOKEN_SHAPE.match(body["refresh_token"])
    assert TOKEN_SHAPE.match(callback["code"])
    assert body["api_domain"] == "https://www.zohoapis.eu"
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == SCOPE


def test_token_answers_are_not_cached(zoho):
    callback = zoho.consent("us", EU_ZUID)
    response = zoho.token("eu", grant_type="authorization_code", code=callback["code"])
    assert response["Cache-Control"] == "no-store"


def test_parameters_may_come_in_the_query_string(zoho):
    callback = zoho.consent("us", US_ZUID)
    params = (
        f"grant_type=authorization_code&client_id={zoho.client_id}&client_secret={zoho.secret}"
        f"&redirect_uri={zoho.redirect_uri}&code={callback['code']}&code_verifier={VERIFIER}"
    )
    response = zoho.http.post(f"/sandbox/us/accounts/oauth/v2/token?{params}")
    assert "access_token" in response.json()


def test_client_credentials_may_come_in_a_basic_header(zoho):
    callback = zoho.consent("us", US_ZUID)
    basic = base64.b64encode(f"{zoho.client_id}:{zoho.secret}".encode()).decode()
    response = zoho.http.post(
        "/sandbox/us/accounts/oauth/v2/token",
        {
            "grant_type": "authorization_code",
            "redirect_uri": zoho.redirect_uri,
            "code": callback["code"],
            "code_verifier": VERIFIER,
        },
        headers={"Authorization": f"Basic {basic}"},
    )
    assert "access_token" in response.json()


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"grant_type": None}, "unsupported_grant_type"),
        ({"client_id": "1000.UNKNOWN"}, "invalid_client"),
        ({"client_id": None}, "invalid_client"),
        ({"client_secret": "wrong"}, "invalid_client_secret"),
        ({"client_secret": None}, "invalid_client_secret"),
        ({"redirect_uri": "http://127.0.0.1:8000/other/"}, "invalid_redirect_uri"),
        ({"redirect_uri": None}, "invalid_redirect_uri"),
        ({"code": "1000.0000.0000"}, "invalid_code"),
        ({"code": None}, "invalid_code"),
        ({"code_verifier": "w" * 43}, "invalid_code"),
        ({"code_verifier": None}, "invalid_code"),
    ],
)
def test_errors_come_as_http_200_with_an_error_body(zoho, overrides, error):
    callback = zoho.consent("us", EU_ZUID)
    assert zoho.exchange(callback, **overrides) == {"error": error}
    assert zoho.records(endpoint="token")[-1]["error"] == error


def test_get_is_not_allowed(zoho):
    assert zoho.http.get("/sandbox/eu/accounts/oauth/v2/token").status_code == 405


def test_a_code_works_once(zoho):
    callback = zoho.consent("us", EU_ZUID)
    assert "access_token" in zoho.exchange(callback)
    assert zoho.exchange(callback) == {"error": "invalid_code"}


def test_a_failed_attempt_does_not_burn_the_code(zoho):
    callback = zoho.consent("us", EU_ZUID)
    assert zoho.exchange(callback, client_secret="wrong") == {"error": "invalid_client_secret"}
    assert "access_token" in zoho.exchange(callback)


def test_a_code_lives_two_minutes(zoho):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        late = zoho.consent("us", EU_ZUID)
        in_time = zoho.consent("us", EU_ZUID)
        traveller.shift(timedelta(seconds=119))
        assert "access_token" in zoho.exchange(in_time)
        traveller.shift(timedelta(seconds=2))
        assert zoho.exchange(late) == {"error": "invalid_code"}


def test_code_lifetime_is_a_switch(zoho):
    zoho.control("settings", {"code_lifetime": 60})
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        callback = zoho.consent("us", EU_ZUID)
        traveller.shift(timedelta(seconds=61))
        assert zoho.exchange(callback) == {"error": "invalid_code"}


def test_a_code_is_bound_to_its_client(zoho):
    zoho.control(
        "clients",
        {
            "client_id": "1000.OTHER",
            "client_secret": "other-secret",
            "redirect_uris": [zoho.redirect_uri],
        },
    )
    callback = zoho.consent("us", EU_ZUID)
    stolen = zoho.exchange(callback, client_id="1000.OTHER", client_secret="other-secret")
    assert stolen == {"error": "invalid_code"}


def test_a_code_is_bound_to_its_redirect_uri(zoho):
    second = "https://app.example/second"
    zoho.control(
        "clients",
        {
            "client_id": "1000.TWO",
            "client_secret": "two-secret",
            "redirect_uris": ["https://app.example/first", second],
        },
    )
    mine = {"client_id": "1000.TWO", "redirect_uri": "https://app.example/first"}
    callback = zoho.consent("us", EU_ZUID, **mine)
    answer = zoho.exchange(
        callback, client_id="1000.TWO", client_secret="two-secret", redirect_uri=second
    )
    assert answer == {"error": "invalid_redirect_uri"}


def test_a_code_is_bound_to_the_users_data_centre(zoho):
    callback = zoho.consent("us", EU_ZUID)
    assert zoho.exchange(callback, dc="us") == {"error": "invalid_code"}
    assert zoho.exchange(callback, dc="in") == {"error": "invalid_code"}
    assert "access_token" in zoho.exchange(callback, dc="eu")


def test_pkce_plain_is_checked_too(zoho):
    plain = {"code_challenge": VERIFIER, "code_challenge_method": "plain"}
    assert zoho.exchange(zoho.consent("us", EU_ZUID, **plain), code_verifier="x" * 43) == {
        "error": "invalid_code"
    }
    assert "access_token" in zoho.exchange(zoho.consent("us", EU_ZUID, **plain))


def test_pkce_method_defaults_to_plain(zoho):
    callback = zoho.consent("us", EU_ZUID, code_challenge=VERIFIER, code_challenge_method=None)
    assert "access_token" in zoho.exchange(callback)


def test_a_verifier_for_a_code_without_challenge_is_refused(zoho):
    callback = zoho.consent("us", EU_ZUID, code_challenge=None, code_challenge_method=None)
    assert zoho.exchange(callback) == {"error": "invalid_code"}
    assert "access_token" in zoho.exchange(callback, code_verifier=None)


def test_pkce_enforcement_off_ignores_the_verifier(zoho):
    zoho.control("settings", {"pkce_enforced": False})
    callback = zoho.consent("us", EU_ZUID)
    assert "access_token" in zoho.exchange(callback, code_verifier="w" * 43)


def test_per_dc_secret_replaces_the_shared_one_in_that_dc_only(zoho):
    zoho.control(
        "clients",
        {
            "client_id": "1000.PERDC",
            "client_secret": "shared",
            "dc_secrets": {"eu": "eu-only"},
            "redirect_uris": ["https://app.example/cb"],
        },
    )
    mine = {"client_id": "1000.PERDC", "redirect_uri": "https://app.example/cb"}
    eu = zoho.consent("us", EU_ZUID, **mine)
    assert zoho.exchange(eu, **mine, client_secret="shared") == {"error": "invalid_client_secret"}
    assert "access_token" in zoho.exchange(eu, **mine, client_secret="eu-only")
    us = zoho.consent("us", US_ZUID, **mine)
    assert zoho.exchange(us, **mine, client_secret="eu-only") == {"error": "invalid_client_secret"}
    assert "access_token" in zoho.exchange(us, **mine, client_secret="shared")


def test_the_portal_client_follows_settings_including_per_dc_secrets(zoho, settings):
    settings.ZOHO_DC_CLIENT_SECRETS = {**settings.ZOHO_DC_CLIENT_SECRETS, "eu": "portal-eu"}
    callback = zoho.consent("us", EU_ZUID)
    assert zoho.exchange(callback) == {"error": "invalid_client_secret"}
    assert "access_token" in zoho.exchange(callback, client_secret="portal-eu")


def test_refresh_token_only_offline_and_on_first_consent_or_with_prompt(zoho):
    online = zoho.connect(US_ZUID, access_type="online", prompt=None)
    assert "refresh_token" not in online and "access_token" in online
    first = zoho.connect(EU_ZUID, prompt=None)
    assert "refresh_token" in first
    again = zoho.connect(EU_ZUID, prompt=None)
    assert "refresh_token" not in again
    forced = zoho.connect(EU_ZUID, prompt="consent")
    assert "refresh_token" in forced


def test_default_access_type_is_online(zoho):
    assert "refresh_token" not in zoho.connect(EU_ZUID, access_type=None, prompt="consent")


def test_code_reuse_can_revoke_what_the_code_gave(zoho):
    zoho.control("settings", {"revoke_on_code_reuse": True})
    callback = zoho.consent("us", EU_ZUID)
    tokens = zoho.exchange(callback)
    assert zoho.exchange(callback) == {"error": "invalid_code"}
    assert zoho.refresh("eu", tokens["refresh_token"]) == {"error": "invalid_code"}
    assert zoho.desk("eu", "organizations", tokens["access_token"]).status_code == 401
