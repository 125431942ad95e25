"""Zoho's migration API, authtoken → OAuth grant (reference §8), at every data centre."""

import re

import pytest
from django.test import Client

from tests.sandbox.conftest import EU_ORG, EU_ZUID, TOKEN_SHAPE, US_ORGS, US_ZUID, json_object

AUTHTOKEN_SHAPE = re.compile(r"^[0-9a-f]{32}$")


def authtokens(zoho) -> dict[str, dict]:
    rows = json_object(zoho.control("authtokens", method="get"))["authtokens"]
    return {row["zuid"]: row for row in rows}


def convert(zoho, dc: str, authtoken: str, org_id: str, **overrides) -> dict:
    data = {
        "client_id": zoho.client_id,
        "client_secret": zoho.secret,
        "grant_type": "authtooauth",
        "authtoken": authtoken,
        "soid": f"ZohoSupport.{org_id}",
    }
    data.update(overrides)
    data = {k: v for k, v in data.items() if v is not None}
    response = zoho.http.post(f"/sandbox/{dc}/accounts/oauth/v2/token/external/authtooauth", data)
    assert response.status_code == 200, response.content[:300]
    if "X-Sandbox-Fault" not in response and not zoho.records(endpoint="authtooauth")[-1]["fault"]:
        assert response["Cache-Control"] == "no-store"
    return json_object(response)


def test_every_seeded_user_has_an_authtoken_tied_to_its_dc_and_orgs(zoho):
    rows = authtokens(zoho)
    users = {u["zuid"]: u for u in zoho.control("users", method="get").json()["users"]}
    assert set(rows) == set(users)
    for zuid, row in rows.items():
        assert AUTHTOKEN_SHAPE.match(row["authtoken"])
        assert row["dc"] == users[zuid]["dc"]
        assert row["org_ids"] == [org["id"] for org in users[zuid]["organizations"]]
    assert len({row["authtoken"] for row in rows.values()}) == len(rows)
    zoho.control("reset")
    assert authtokens(zoho) == rows  # the same after a reset: a demo file can name them


def test_conversion_answers_the_legacy_token_format(zoho):
    body = convert(zoho, "eu", authtokens(zoho)[EU_ZUID]["authtoken"], EU_ORG)
    assert list(body) == [
        "access_token",
        "refresh_token",
        "expires_in_sec",
        "expires_in",
        "api_domain",
        "token_type",
    ]
    assert TOKEN_SHAPE.match(body["access_token"]) and TOKEN_SHAPE.match(body["refresh_token"])
    assert (body["expires_in_sec"], body["expires_in"]) == (3600, 3600000)
    assert body["api_domain"] == "https://www.zohoapis.eu"
    assert body["token_type"] == "Bearer"


def test_a_converted_grant_works_like_a_consented_one(zoho):
    body = convert(zoho, "us", authtokens(zoho)[US_ZUID]["authtoken"], US_ORGS[1])
    assert zoho.userinfo("us", body["access_token"]).json()["ZUID"] == int(US_ZUID)
    orgs = zoho.desk("us", "organizations", body["access_token"]).json()["data"]
    assert {str(org["id"]) for org in orgs} == set(US_ORGS)
    refreshed = zoho.refresh("us", body["refresh_token"])
    assert TOKEN_SHAPE.match(refreshed["access_token"])
    me = zoho.desk("us", "myinfo", refreshed["access_token"], org_id=US_ORGS[0])
    assert me.status_code == 200 and me.json()["zuid"] == US_ZUID
    grant = zoho.control("grants", {"zuid": US_ZUID}, method="get").json()["grants"][0]
    assert grant["active"] and grant["dc"] == "us"
    assert grant["scope"] == "Desk.basic.READ,Desk.settings.READ,AaaServer.profile.READ"
    assert zoho.revoke("us", body["refresh_token"]).json() == {"status": "success"}
    assert zoho.refresh("us", body["refresh_token"]) == {"error": "invalid_code"}


def test_a_self_client_names_its_scope(zoho):
    body = convert(zoho, "eu", authtokens(zoho)[EU_ZUID]["authtoken"], EU_ORG, scope="Desk.x.READ")
    assert zoho.userinfo("eu", body["access_token"]).json() == {"error": "invalid_oauthscope"}


@pytest.mark.parametrize(
    ("dc", "authtoken", "org_id", "error"),
    [
        ("us", "0" * 32, US_ORGS[0], "invalid_authtoken"),  # unknown
        ("us", "", US_ORGS[0], "invalid_authtoken"),  # missing
        ("eu", "US", US_ORGS[0], "invalid_authtoken"),  # the US user's, at the EU server
        ("us", "US", EU_ORG, "invalid_soid"),  # another user's org
        ("us", "US", "99999999", "invalid_soid"),  # no such org
    ],
)
def test_authtoken_and_org_must_match(zoho, dc, authtoken, org_id, error):
    value = authtokens(zoho)[US_ZUID]["authtoken"] if authtoken == "US" else authtoken
    assert convert(zoho, dc, value, org_id) == {"error": error}
    assert zoho.control("grants", method="get").json()["grants"] == []


@pytest.mark.parametrize("soid", ["60000001", "ZohoCRM.60000001", "ZohoSupport.", "zohosupport.1"])
def test_soid_must_name_a_desk_org(zoho, soid):
    value = authtokens(zoho)[US_ZUID]["authtoken"]
    assert convert(zoho, "us", value, "", soid=soid) == {"error": "invalid_soid"}


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"grant_type": "authorization_code"}, "unsupported_grant_type"),
        ({"grant_type": None}, "unsupported_grant_type"),
        ({"client_id": "1000.UNKNOWN"}, "invalid_client"),
        ({"client_secret": "wrong"}, "invalid_client_secret"),
        ({"client_secret": None}, "invalid_client_secret"),
    ],
)
def test_client_errors_come_first_in_zoho_style(zoho, overrides, error):
    value = authtokens(zoho)[US_ZUID]["authtoken"]
    assert convert(zoho, "us", value, US_ORGS[0], **overrides) == {"error": error}


def test_fault_switches_dead_authtoken_wrong_org_and_throttling(zoho):
    value = authtokens(zoho)[US_ZUID]["authtoken"]
    zoho.fault("dead_authtoken", zuid=US_ZUID, count=1)
    assert convert(zoho, "us", value, US_ORGS[0]) == {"error": "invalid_authtoken"}
    zoho.fault("wrong_org", dc="us", count=1)
    assert convert(zoho, "us", value, US_ORGS[0]) == {"error": "invalid_soid"}
    zoho.fault("rate_limit", endpoint="authtooauth", count=1)
    throttled = convert(zoho, "us", value, US_ORGS[0])
    assert throttled["error"] == "Access Denied" and throttled["status"] == "failure"
    assert "access_token" in convert(zoho, "us", value, US_ORGS[0])
    records = zoho.records(endpoint="authtooauth")
    assert [r["error"] for r in records] == [
        "invalid_authtoken",
        "invalid_soid",
        "Access Denied",
        None,
    ]
    assert {r["zuid"] for r in records} == {US_ZUID}


def test_a_dead_authtoken_fault_for_one_user_spares_the_others(zoho):
    zoho.fault("dead_authtoken", zuid=US_ZUID)
    eu = convert(zoho, "eu", authtokens(zoho)[EU_ZUID]["authtoken"], EU_ORG)
    assert "refresh_token" in eu


def test_outage_faults_apply(zoho):
    value = authtokens(zoho)[EU_ZUID]["authtoken"]
    zoho.fault("status", endpoint="authtooauth", status=503, retry_after=30, count=1)
    url = "/sandbox/eu/accounts/oauth/v2/token/external/authtooauth"
    response = zoho.http.post(url, {"grant_type": "authtooauth", "authtoken": value})
    assert response.status_code == 503 and response["Retry-After"] == "30"


def test_the_record_and_the_page_never_hold_a_converted_token(zoho):
    value = authtokens(zoho)[EU_ZUID]["authtoken"]
    body = convert(zoho, "eu", value, EU_ORG)
    page = Client().get("/sandbox/").content.decode()
    assert value in page  # the control page shows the authtokens ...
    assert body["refresh_token"] not in page and body["access_token"] not in page  # ... not these
    records = zoho.records(endpoint="authtooauth")
    assert value not in str(records) and body["refresh_token"] not in str(records)
