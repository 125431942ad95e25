"""Multi-DC routing (reference §1.2): start anywhere in the family, land in the user's DC;
China is a separate cluster."""

import pytest

from tests.sandbox.conftest import CN_ORG, CN_ZUID, EU_ZUID, US_ZUID

MULTI_DC_USERS = {
    "us": "10000001",
    "eu": "20000001",
    "in": "30000001",
    "au": "40000001",
    "ca": "50000001",
    "jp": "90000001",
    "sa": "95000001",
    "uk": "99000001",
}


@pytest.mark.parametrize(("dc", "zuid"), MULTI_DC_USERS.items())
def test_every_multi_dc_user_can_connect_from_the_us_server(zoho, dc, zuid):
    callback = zoho.consent("us", zuid)
    assert callback["location"] == dc
    assert callback["accounts-server"] == f"http://testserver/sandbox/{dc}/accounts"
    tokens = zoho.exchange(callback)
    assert tokens["api_domain"].startswith("https://www.zohoapis.")
    assert zoho.desk(dc, "organizations", tokens["access_token"]).status_code == 200


def test_any_multi_dc_server_may_start_the_flow(zoho):
    assert zoho.consent("in", EU_ZUID)["location"] == "eu"


def test_china_is_reached_only_through_china(zoho):
    html = zoho.http.get(zoho.auth_url("cn")).content.decode()
    assert f'value="{CN_ZUID}"' in html
    assert f'value="{US_ZUID}"' not in html and f'value="{EU_ZUID}"' not in html
    assert zoho.consent_response("cn", US_ZUID).status_code == 400
    assert zoho.consent_response("us", CN_ZUID).status_code == 400
    callback = zoho.consent("cn", CN_ZUID)
    assert callback["location"] == "cn"
    tokens = zoho.exchange(callback)
    assert tokens["api_domain"] == "https://www.zohoapis.com.cn"
    assert zoho.desk("cn", "myinfo", tokens["access_token"], org_id=CN_ORG).status_code == 200


def test_accounts_server_follows_the_host_the_request_used(zoho, client):
    response = client.post(
        zoho.auth_url("us"), {"zuid": EU_ZUID, "decision": "approve"}, HTTP_HOST="localhost"
    )
    assert (
        "accounts-server=http%3A%2F%2Flocalhost%2Fsandbox%2Feu%2Faccounts" in (response["Location"])
    )
