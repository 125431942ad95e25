"""The authorization request and consent page (reference §2–§3)."""

import pytest
from django.test import Client

from tests.sandbox.conftest import CN_ZUID, EU_ZUID, UK_ZUID, US_ZUID, query


def test_consent_page_offers_every_multi_dc_user_but_not_china(zoho):
    page = zoho.http.get(zoho.auth_url("us"))
    assert page.status_code == 200
    html = page.content.decode()
    for zuid in (US_ZUID, EU_ZUID, "30000001", "40000001", "50000001", "90000001", UK_ZUID):
        assert f'value="{zuid}"' in html
    assert f'value="{CN_ZUID}"' not in html
    assert "Desk.basic.READ" in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_consent_page_escapes_hostile_names(zoho):
    html = zoho.http.get(zoho.auth_url("us")).content.decode()
    assert "<img src=x" not in html and "<svg" not in html and "<script>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "\u202e" in html  # shown (isolated by CSS), not stripped: the portal must cope


def test_consent_page_lets_the_redirect_leave_through_form_action(zoho):
    page = zoho.http.get(zoho.auth_url("us"))
    policy = page["Content-Security-Policy"]
    assert "form-action 'self' http://127.0.0.1:8000" in policy
    assert "script-src 'self'" in policy


def test_approve_redirects_with_code_location_accounts_server_and_state(zoho):
    response = zoho.consent_response("us", EU_ZUID)
    location = response["Location"]
    assert location.startswith(zoho.redirect_uri + "?code=1000.")
    assert "accounts-server=http%3A%2F%2Ftestserver%2Fsandbox%2Feu%2Faccounts" in location
    params = query(location)
    assert params["location"] == "eu"
    assert params["accounts-server"] == "http://testserver/sandbox/eu/accounts"
    assert params["state"] == "state-123"
    assert list(params) == ["code", "location", "accounts-server", "state"]


def test_state_is_optional_and_left_out_when_absent(zoho):
    params = zoho.consent("us", US_ZUID, state=None)
    assert "state" not in params and params["code"]


def test_deny_redirects_with_access_denied_and_state(zoho):
    response = zoho.consent_response("us", EU_ZUID, decision="deny")
    assert query(response["Location"]) == {"error": "access_denied", "state": "state-123"}
    assert zoho.records(endpoint="auth")[-1]["error"] == "access_denied"


def test_unknown_client_gets_an_error_page_and_no_redirect(zoho):
    response = zoho.http.get(zoho.auth_url("us", client_id="1000.NOPE"))
    assert response.status_code == 400
    assert "invalid_client" in response.content.decode()
    assert "Location" not in response


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://127.0.0.1:8000/connections/callback/evil",
        "http://evil.example/connections/callback/",
        "http://127.0.0.1:8000/connections/callback",
        "",
    ],
)
def test_redirect_uri_must_match_exactly_and_is_never_followed(zoho, redirect_uri):
    response = zoho.http.get(zoho.auth_url("us", redirect_uri=redirect_uri))
    assert response.status_code == 400
    assert "invalid_redirect_uri" in response.content.decode()


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": None}, "unsupported_response_type"),
        ({"scope": None}, "invalid_scope"),
        ({"scope": "Desk.basic.READ Desk.settings.READ"}, "invalid_scope"),
        ({"scope": "not a scope"}, "invalid_scope"),
        ({"access_type": "forever"}, "invalid_request"),
        ({"prompt": "login"}, "invalid_request"),
        ({"code_challenge_method": "S512"}, "invalid_request"),
        ({"code_challenge": "too-short"}, "invalid_request"),
        ({"code_challenge": None}, "invalid_request"),  # a method without a challenge
    ],
)
def test_invalid_requests_go_back_to_the_client_with_an_error(zoho, overrides, error):
    response = zoho.http.get(zoho.auth_url("us", **overrides))
    assert response.status_code == 302
    assert query(response["Location"]) == {"error": error, "state": "state-123"}


def test_space_separated_scopes_are_accepted_only_when_switched_on(zoho):
    zoho.control("settings", {"allow_space_separated_scopes": True})
    spaced = "Desk.basic.READ AaaServer.profile.READ"
    tokens = zoho.connect(EU_ZUID, scope=spaced)
    assert tokens["scope"] == "Desk.basic.READ,AaaServer.profile.READ"


def test_repeated_parameters_are_refused(zoho):
    url = zoho.auth_url("us") + "&client_id=1000.OTHER"
    assert zoho.http.get(url).status_code == 400


def test_pkce_can_be_required(zoho):
    zoho.control("settings", {"pkce_required": True})
    response = zoho.http.get(zoho.auth_url("us", code_challenge=None, code_challenge_method=None))
    assert query(response["Location"])["error"] == "invalid_request"


def test_approve_needs_a_user_from_the_offered_list(zoho):
    assert zoho.consent_response("us", None).status_code == 400
    assert zoho.consent_response("us", CN_ZUID).status_code == 400
    assert zoho.consent_response("us", "12345").status_code == 400


def test_consent_form_is_csrf_protected(zoho, settings):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(zoho.auth_url("us"), {"zuid": EU_ZUID, "decision": "approve"})
    assert response.status_code == 403


def test_client_without_multi_dc_for_the_users_dc_cannot_finish(zoho):
    zoho.control(
        "clients",
        {
            "client_id": "1000.USONLY",
            "client_secret": "s3cret",
            "redirect_uris": ["https://app.example/cb"],
            "data_centres": ["us"],
        },
    )
    base = {"client_id": "1000.USONLY", "redirect_uri": "https://app.example/cb"}
    assert zoho.consent("us", US_ZUID, **base)["location"] == "us"
    response = zoho.consent_response("us", EU_ZUID, **base)
    assert response.status_code == 400
    assert "Multi DC" in response.content.decode()
    assert zoho.http.get(zoho.auth_url("eu", **base)).status_code == 400


def test_get_and_post_only(zoho):
    assert zoho.http.put(zoho.auth_url("us")).status_code == 405


def test_unknown_data_centre_is_404(zoho):
    assert zoho.http.get("/sandbox/xx/accounts/oauth/v2/auth").status_code == 404
