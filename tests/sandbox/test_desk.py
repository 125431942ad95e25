"""The Desk API endpoints (reference §7)."""

import pytest

from tests.sandbox.conftest import EU_ORG, EU_ZUID, UK_ZUID, US_ORGS, US_ZUID


def error(response) -> tuple[int, str]:
    return response.status_code, response.json()["errorCode"]


def test_organizations_lists_the_users_organizations(zoho):
    tokens = zoho.connect(US_ZUID)
    response = zoho.desk("us", "organizations", tokens["access_token"])
    assert response.status_code == 200
    orgs = response.json()["data"]
    assert [org["id"] for org in orgs] == [int(org_id) for org_id in US_ORGS]
    first = orgs[0]
    assert first["companyName"] == "Analytical Engines"
    assert first["portalName"] == "analyticalengines"
    assert first["edition"] == "ENTERPRISE"
    assert first["isDefault"] is True and orgs[1]["isDefault"] is False


def test_hostile_organization_data_reaches_the_client_unchanged(zoho):
    tokens = zoho.connect(UK_ZUID)
    org = zoho.desk("uk", "organizations", tokens["access_token"]).json()["data"][0]
    assert org["companyName"].startswith("<script>")
    assert org["portalURL"] == "javascript:alert(1)"


def test_myinfo_describes_the_agent_in_the_organization(zoho):
    tokens = zoho.connect(EU_ZUID)
    response = zoho.desk("eu", "myinfo", tokens["access_token"], org_id=EU_ORG)
    assert response.status_code == 200
    agent = response.json()
    assert agent["zuid"] == EU_ZUID
    assert agent["emailId"] == "agent@example.eu"
    assert agent["name"] == "Émilie du Châtelet"
    assert agent["id"] and agent["status"] == "ACTIVE"


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Zoho-oauthtoken", "Zoho-oauthtoken 1000.nope.nope", "Bearer {token}", "{token}"],
)
def test_missing_or_invalid_tokens_are_invalid_oauth(zoho, authorization):
    tokens = zoho.connect(EU_ZUID)
    headers = {}
    if authorization is not None:
        headers["Authorization"] = authorization.format(token=tokens["access_token"])
    response = zoho.http.get("/sandbox/eu/desk/api/v1/organizations", headers=headers)
    assert error(response) == (401, "INVALID_OAUTH")
    assert "message" in response.json()


def test_a_token_works_only_in_its_data_centre(zoho):
    tokens = zoho.connect(EU_ZUID)
    assert error(zoho.desk("us", "organizations", tokens["access_token"])) == (
        401,
        "INVALID_OAUTH",
    )


def test_refresh_token_is_not_an_access_token(zoho):
    tokens = zoho.connect(EU_ZUID)
    assert error(zoho.desk("eu", "organizations", tokens["refresh_token"]))[1] == "INVALID_OAUTH"


def test_scope_mismatch(zoho):
    tokens = zoho.connect(EU_ZUID, scope="AaaServer.profile.READ")
    assert error(zoho.desk("eu", "organizations", tokens["access_token"])) == (
        401,
        "SCOPE_MISMATCH",
    )
    assert error(zoho.desk("eu", "myinfo", tokens["access_token"], org_id=EU_ORG)) == (
        401,
        "SCOPE_MISMATCH",
    )


def test_myinfo_accepts_either_basic_or_settings_scope(zoho):
    settings_only = zoho.connect(EU_ZUID, scope="Desk.settings.READ")
    assert (
        zoho.desk("eu", "myinfo", settings_only["access_token"], org_id=EU_ORG).status_code == 200
    )
    assert error(zoho.desk("eu", "organizations", settings_only["access_token"]))[1] == (
        "SCOPE_MISMATCH"
    )
    all_basic = zoho.connect(EU_ZUID, scope="Desk.basic.ALL")
    assert zoho.desk("eu", "organizations", all_basic["access_token"]).status_code == 200


def test_myinfo_needs_an_org_id(zoho):
    tokens = zoho.connect(EU_ZUID)
    response = zoho.desk("eu", "myinfo", tokens["access_token"])
    assert error(response) == (422, "UNPROCESSABLE_ENTITY")
    assert response.json()["errors"][0]["fieldName"] == "/orgId"


def test_myinfo_in_someone_elses_organization_is_org_mismatch(zoho):
    tokens = zoho.connect(EU_ZUID)
    response = zoho.desk("eu", "myinfo", tokens["access_token"], org_id=US_ORGS[0])
    assert error(response) == (401, "OAUTH_ORG_MISMATCH")
    assert error(zoho.desk("eu", "myinfo", tokens["access_token"], org_id="123"))[1] == (
        "OAUTH_ORG_MISMATCH"
    )
