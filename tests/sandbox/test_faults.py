"""Each fault switch produces its documented failure, scoped and counted as asked."""

import json
import time
import zlib

import pytest

from tests.sandbox.conftest import EU_ORG, EU_ZUID, US_ZUID, Zoho


@pytest.fixture
def eu_tokens(zoho: Zoho) -> dict:
    return zoho.connect(EU_ZUID)


def test_status_fault_answers_the_status_body_and_retry_after_and_does_nothing(zoho, eu_tokens):
    zoho.fault("status", endpoint="refresh", status=503, body='{"x": 1}', retry_after=7, count=1)
    response = zoho.token(
        "eu",
        grant_type="refresh_token",
        client_id=zoho.client_id,
        client_secret=zoho.secret,
        refresh_token=eu_tokens["refresh_token"],
    )
    assert response.status_code == 503
    assert response["Retry-After"] == "7"
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"x": 1}
    grants = zoho.control("grants", method="get").json()["grants"]
    assert grants[0]["access_tokens"] == 1  # no token was minted
    assert "access_token" in zoho.refresh("eu", eu_tokens["refresh_token"])  # one-shot


@pytest.mark.parametrize("status", [500, 502])
def test_status_fault_on_the_code_exchange_leaves_the_code_usable(zoho, status):
    zoho.fault("status", endpoint="token", status=status, count=1)
    callback = zoho.consent("us", EU_ZUID)
    response = zoho.token("eu", grant_type="authorization_code", code=callback["code"])
    assert response.status_code == status
    assert "access_token" in zoho.exchange(callback)


def test_malformed_json(zoho, eu_tokens):
    zoho.fault("malformed_json", endpoint="refresh")
    response = zoho.token("eu", grant_type="refresh_token")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_html_200(zoho):
    zoho.fault("html_200", endpoint="userinfo")
    response = zoho.userinfo("eu", "1000.x.y")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")


def test_error_200_on_accounts_and_on_desk(zoho, eu_tokens):
    zoho.fault("error_200", endpoint="token", error="invalid_client_secret")
    callback = zoho.consent("us", EU_ZUID)
    assert zoho.exchange(callback) == {"error": "invalid_client_secret"}
    zoho.fault("error_200", endpoint="desk_organizations", error="UNAUTHORIZED")
    response = zoho.desk("eu", "organizations", eu_tokens["access_token"])
    assert response.status_code == 200 and response.json()["errorCode"] == "UNAUTHORIZED"


def test_invalid_code_on_the_next_refresh_of_one_user(zoho, eu_tokens):
    us_tokens = zoho.connect(US_ZUID)
    zoho.fault("invalid_code", zuid=EU_ZUID, count=1)
    assert "access_token" in zoho.refresh("us", us_tokens["refresh_token"])
    assert zoho.refresh("eu", eu_tokens["refresh_token"]) == {"error": "invalid_code"}
    assert "access_token" in zoho.refresh("eu", eu_tokens["refresh_token"])
    record = zoho.records(endpoint="refresh", zuid=EU_ZUID)
    assert [(r["error"], r["fault"]) for r in record] == [
        ("invalid_code", "invalid_code"),
        (None, None),
    ]


def test_redirect(zoho):
    zoho.fault("redirect", endpoint="token", location="https://evil.example/token", status=307)
    response = zoho.token("eu", grant_type="authorization_code")
    assert response.status_code == 307 and response["Location"] == "https://evil.example/token"


def test_oversized_body(zoho):
    zoho.fault("oversized", endpoint="desk_organizations", size=300_000)
    response = zoho.desk("eu", "organizations", None)
    body = b"".join(response.streaming_content)
    assert len(body) == 300_000 == int(response["Content-Length"])
    assert json.loads(body)["status"] == "success"


def test_gzip_bomb_is_small_as_sent_and_huge_inflated(zoho):
    zoho.fault("gzip_bomb", endpoint="refresh", size=8 * 1024 * 1024)
    response = zoho.token("eu", grant_type="refresh_token", refresh_token="x")
    assert response["Content-Encoding"] == "gzip"
    sent = b"".join(response.streaming_content)
    assert len(sent) < 64 * 1024
    inflated = zlib.decompress(sent, 16 + zlib.MAX_WBITS)
    assert len(inflated) == 8 * 1024 * 1024
    assert json.loads(inflated)["token_type"] == "Bearer"


def test_deep_json_is_nested_past_the_parsers_limit(zoho):
    zoho.fault("deep_json", endpoint="refresh", depth=50_000, count=1)
    response = zoho.token("eu", grant_type="refresh_token", refresh_token="x")
    assert response.status_code == 200 and response.content.count(b"[") == 50_000
    with pytest.raises(RecursionError):
        json.loads(response.content)


def test_token_field_sets_or_removes_a_field(zoho, eu_tokens):
    zoho.fault("token_field", endpoint="refresh", field="token_type", value='"mac"', count=1)
    zoho.fault("token_field", endpoint="refresh", field="expires_in", value="{}", count=1)
    zoho.fault("token_field", endpoint="refresh", field="api_domain", count=1)
    refreshes = [zoho.refresh("eu", eu_tokens["refresh_token"]) for _ in range(4)]
    assert refreshes[0]["token_type"] == "mac"  # the oldest fault of a kind first
    assert refreshes[1]["expires_in"] == {}
    assert "api_domain" not in refreshes[2]
    assert refreshes[3]["token_type"] == "Bearer" and refreshes[3]["expires_in"] == 3600


def test_rate_limit_on_accounts_and_on_desk(zoho, eu_tokens):
    zoho.fault("rate_limit", endpoint="refresh", count=1)
    assert zoho.refresh("eu", eu_tokens["refresh_token"])["error"] == "Access Denied"
    zoho.fault("rate_limit", endpoint="desk_myinfo", count=1)
    response = zoho.desk("eu", "myinfo", eu_tokens["access_token"], org_id=EU_ORG)
    assert response.status_code == 429 and response.json()["errorCode"] == "TOO_MANY_REQUESTS"


def test_omit_refresh_token(zoho):
    zoho.fault("omit_refresh_token", count=1)
    assert "refresh_token" not in zoho.connect(EU_ZUID)
    assert zoho.control("grants", method="get").json()["grants"] == []
    assert "refresh_token" in zoho.connect(EU_ZUID)


def test_api_domain_and_legacy_expiry(zoho, eu_tokens):
    zoho.fault("api_domain", value="https://evil.example")
    zoho.fault("legacy_expiry", endpoint="refresh")
    body = zoho.refresh("eu", eu_tokens["refresh_token"])
    assert body["api_domain"] == "https://evil.example"
    assert body["expires_in"] == 3_600_000 and body["expires_in_sec"] == 3600


def test_rotate_refresh_token(zoho, eu_tokens):
    zoho.fault("rotate_refresh_token", count=1)
    body = zoho.refresh("eu", eu_tokens["refresh_token"])
    assert body["refresh_token"] != eu_tokens["refresh_token"]
    assert zoho.refresh("eu", eu_tokens["refresh_token"]) == {"error": "invalid_code"}
    assert "access_token" in zoho.refresh("eu", body["refresh_token"])
    assert zoho.desk("eu", "organizations", body["access_token"]).status_code == 200


def test_callback_names_another_accounts_server_and_location(zoho):
    zoho.fault("callback_accounts_server", value="https://evil.example", count=1)
    zoho.fault("callback_location", value="in", count=1)
    callback = zoho.consent("us", EU_ZUID)
    assert callback["accounts-server"] == "https://evil.example"
    assert callback["location"] == "in"
    assert "access_token" in zoho.exchange(callback, dc="eu")  # the code still lives in EU


def test_callback_error(zoho):
    zoho.fault("callback_error", error="server_error", description="<b>boom</b>")
    callback = zoho.consent("us", EU_ZUID)
    assert callback == {
        "error": "server_error",
        "error_description": "<b>boom</b>",
        "state": "state-123",
    }


def test_grant_scope(zoho):
    zoho.fault("grant_scope", value="Desk.basic.READ")
    tokens = zoho.connect(EU_ZUID)
    assert tokens["scope"] == "Desk.basic.READ"
    assert zoho.userinfo("eu", tokens["access_token"]).status_code == 401


def test_latency(zoho):
    zoho.fault("latency", endpoint="serverinfo", seconds=0.3, count=1)
    started = time.monotonic()
    assert zoho.http.get("/sandbox/us/accounts/oauth/serverinfo").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_reset_without_a_socket_answers_an_empty_502(zoho):
    zoho.fault("reset", endpoint="serverinfo")
    response = zoho.http.get("/sandbox/us/accounts/oauth/serverinfo")
    assert response.status_code == 502 and response["X-Sandbox-Fault"] == "reset-unsupported"


def test_faults_match_dc_endpoint_and_zuid_only(zoho, eu_tokens):
    zoho.fault("status", dc="us", endpoint="desk_organizations", status=500)
    zoho.fault("status", endpoint="desk_organizations", zuid=US_ZUID, status=502)
    assert zoho.desk("eu", "organizations", eu_tokens["access_token"]).status_code == 200
    assert zoho.desk("eu", "myinfo", eu_tokens["access_token"], org_id=EU_ORG).status_code == 200
    assert zoho.desk("us", "organizations", "1000.x.y").status_code == 500
    us_tokens = zoho.connect(US_ZUID)
    assert zoho.desk("in", "organizations", us_tokens["access_token"]).status_code == 502


def test_count_and_persistence(zoho):
    twice = zoho.fault("status", endpoint="serverinfo", status=500, count=2)
    url = "/sandbox/eu/accounts/oauth/serverinfo"
    assert [zoho.http.get(url).status_code for _ in range(3)] == [500, 500, 200]
    persistent = zoho.fault("status", endpoint="serverinfo", status=503)
    assert [zoho.http.get(url).status_code for _ in range(3)] == [503, 503, 503]
    listed = {f["id"]: f for f in zoho.control("faults", method="get").json()["faults"]}
    assert listed[twice["id"]]["active"] is False and listed[twice["id"]]["fired"] == 2
    assert listed[persistent["id"]]["remaining"] is None
    zoho.control(f"faults/{persistent['id']}/clear")
    assert zoho.http.get(url).status_code == 200


def test_clear_and_reset_remove_faults(zoho):
    zoho.fault("status", endpoint="serverinfo")
    zoho.control("faults/clear")
    assert zoho.http.get("/sandbox/eu/accounts/oauth/serverinfo").status_code == 200
    zoho.fault("status", endpoint="serverinfo")
    zoho.control("reset")
    assert zoho.control("faults", method="get").json()["faults"] == []


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "explode"},
        {"kind": "status", "dc": "mars"},
        {"kind": "status", "endpoint": "nowhere"},
        {"kind": "omit_refresh_token", "endpoint": "refresh"},
        {"kind": "redirect"},
        {"kind": "status", "status": 200},
        {"kind": "status", "count": 0},
        {"kind": "latency", "seconds": 600},
        {"kind": "api_domain"},
        {"kind": "invalid_code", "zuid": "abc"},
    ],
)
def test_invalid_faults_are_refused(zoho, fields):
    response = zoho.control("faults", fields)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


def test_a_refused_request_does_not_use_up_a_modifier(zoho, eu_tokens):
    zoho.fault("api_domain", endpoint="refresh", value="https://x.example", count=1)
    assert zoho.refresh("eu", "1000.bad.bad") == {"error": "invalid_code"}
    assert zoho.records()[-1]["fault"] is None
    assert zoho.refresh("eu", eu_tokens["refresh_token"])["api_domain"] == "https://x.example"
    assert zoho.records()[-1]["fault"] == "api_domain"
    assert "x.example" not in zoho.refresh("eu", eu_tokens["refresh_token"])["api_domain"]
