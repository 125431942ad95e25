"""Revocation (reference §6), from the app's side and from the user's side."""

from tests.sandbox.conftest import EU_ZUID, US_ZUID


def test_revoking_a_refresh_token_kills_it_and_every_access_token_from_it(zoho):
    tokens = zoho.connect(EU_ZUID)
    refreshed = zoho.refresh("eu", tokens["refresh_token"])["access_token"]
    other = zoho.connect(EU_ZUID)
    response = zoho.revoke("eu", tokens["refresh_token"])
    assert response.status_code == 200 and response.json() == {"status": "success"}
    assert zoho.refresh("eu", tokens["refresh_token"]) == {"error": "invalid_code"}
    for access in (tokens["access_token"], refreshed):
        dead = zoho.desk("eu", "organizations", access)
        assert dead.status_code == 401 and dead.json()["errorCode"] == "INVALID_OAUTH"
        assert zoho.userinfo("eu", access).status_code == 401
    assert zoho.desk("eu", "organizations", other["access_token"]).status_code == 200
    assert "access_token" in zoho.refresh("eu", other["refresh_token"])


def test_revoking_an_access_token_kills_only_that_one(zoho):
    tokens = zoho.connect(EU_ZUID)
    assert zoho.revoke("eu", tokens["access_token"]).json() == {"status": "success"}
    assert zoho.desk("eu", "organizations", tokens["access_token"]).status_code == 401
    assert "access_token" in zoho.refresh("eu", tokens["refresh_token"])


def test_revoking_an_unknown_or_dead_token_is_http_400(zoho):
    tokens = zoho.connect(EU_ZUID)
    assert zoho.revoke("eu", "1000.nope.nope").status_code == 400
    assert zoho.revoke("eu", "").status_code == 400
    assert zoho.revoke("eu", tokens["refresh_token"]).status_code == 200
    again = zoho.revoke("eu", tokens["refresh_token"])
    assert again.status_code == 400 and again.json() == {"error": "invalid_token"}


def test_revocation_happens_in_the_tokens_data_centre(zoho):
    tokens = zoho.connect(EU_ZUID)
    assert zoho.revoke("us", tokens["refresh_token"]).status_code == 400
    assert "access_token" in zoho.refresh("eu", tokens["refresh_token"])


def test_revocation_anywhere_is_a_switch(zoho):
    zoho.control("settings", {"revoke_at_any_dc": True})
    tokens = zoho.connect(EU_ZUID)
    assert zoho.revoke("us", tokens["refresh_token"]).status_code == 200
    assert zoho.refresh("eu", tokens["refresh_token"]) == {"error": "invalid_code"}


def test_revoke_takes_the_token_in_the_query_string_too(zoho):
    tokens = zoho.connect(EU_ZUID)
    url = f"/sandbox/eu/accounts/oauth/v2/token/revoke?token={tokens['refresh_token']}"
    assert zoho.http.post(url).json() == {"status": "success"}


def test_user_revokes_the_app_in_zoho(zoho):
    first = zoho.connect(EU_ZUID)
    second = zoho.connect(EU_ZUID)
    survivor = zoho.connect(US_ZUID)
    response = zoho.control(f"users/{EU_ZUID}/revoke")
    assert response.json() == {"revoked": 2}
    for tokens in (first, second):
        assert zoho.refresh("eu", tokens["refresh_token"]) == {"error": "invalid_code"}
        assert zoho.desk("eu", "organizations", tokens["access_token"]).status_code == 401
    assert "access_token" in zoho.refresh("us", survivor["refresh_token"])
    # The consent is gone too: the next offline grant counts as the first again.
    assert "refresh_token" in zoho.connect(EU_ZUID, prompt=None)


def test_user_revoke_also_kills_unused_codes(zoho):
    callback = zoho.consent("us", EU_ZUID)
    zoho.control(f"users/{EU_ZUID}/revoke")
    assert zoho.exchange(callback) == {"error": "invalid_code"}


def test_user_revoke_of_unknown_user_or_client_is_404(zoho):
    assert zoho.control("users/123/revoke").status_code == 404
    assert zoho.control(f"users/{EU_ZUID}/revoke", {"client_id": "1000.X"}).status_code == 404
