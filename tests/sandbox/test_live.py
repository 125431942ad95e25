"""Over real HTTP against a live server: the whole authorization-code flow driven by a plain
HTTP client, the faults only a real socket can show, and the control client other tests use."""

import json
import time
from urllib.parse import urlencode

import httpx2
import pytest
from django.conf import settings

from tests.sandbox.conftest import EU_ORG, EU_ZUID, SCOPE, VERIFIER, query, s256
from tests.sandbox_control import SandboxControl, SandboxError

pytestmark = pytest.mark.django_db(transaction=True)


def authorize_url(control: SandboxControl, dc: str = "us", **overrides: str) -> str:
    params = {
        "client_id": settings.ZOHO_CLIENT_ID,
        "response_type": "code",
        "redirect_uri": settings.ZOHO_REDIRECT_URI,
        "scope": SCOPE,
        "access_type": "offline",
        "prompt": "consent",
        "state": "live-state",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
        **overrides,
    }
    return f"{control.accounts_url(dc)}/oauth/v2/auth?{urlencode(params)}"


def token_request(http: httpx2.Client, accounts: str, **data: str) -> httpx2.Response:
    body = {"client_id": settings.ZOHO_CLIENT_ID, "client_secret": settings.ZOHO_CLIENT_SECRET}
    return http.post(f"{accounts}/oauth/v2/token", data={**body, **data})


def test_full_flow_over_http(control, http, live_server):
    callback = control.consent(authorize_url(control), zuid=EU_ZUID)
    assert callback.startswith(settings.ZOHO_REDIRECT_URI + "?")
    params = query(callback)
    accounts = params["accounts-server"]
    assert accounts == f"{live_server.url}/sandbox/eu/accounts" == control.accounts_url("eu")
    assert params["location"] == "eu" and params["state"] == "live-state"

    tokens = token_request(
        http,
        accounts,
        grant_type="authorization_code",
        redirect_uri=settings.ZOHO_REDIRECT_URI,
        code=params["code"],
        code_verifier=VERIFIER,
    ).json()
    assert tokens["api_domain"] == "https://www.zohoapis.eu"
    auth = {"Authorization": f"Zoho-oauthtoken {tokens['access_token']}"}
    me = http.get(f"{accounts}/oauth/user/info", headers=auth).json()
    assert me["ZUID"] == int(EU_ZUID)
    desk = control.desk_url("eu")
    orgs = http.get(f"{desk}/api/v1/organizations", headers=auth).json()["data"]
    org_id = str(orgs[0]["id"])
    agent = http.get(f"{desk}/api/v1/myinfo", headers={**auth, "orgId": org_id}).json()
    assert agent["zuid"] == EU_ZUID and org_id == EU_ORG

    fresh = token_request(
        http, accounts, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    ).json()
    assert "refresh_token" not in fresh
    revoked = http.post(
        f"{accounts}/oauth/v2/token/revoke", data={"token": tokens["refresh_token"]}
    )
    assert revoked.json() == {"status": "success"}
    dead = http.get(f"{desk}/api/v1/organizations", headers=auth)
    assert dead.status_code == 401

    endpoints = [(r["dc"], r["endpoint"], r["status"]) for r in control.requests()]
    assert endpoints == [
        ("us", "auth", 200),
        ("us", "auth", 302),
        ("eu", "token", 200),
        ("eu", "userinfo", 200),
        ("eu", "desk_organizations", 200),
        ("eu", "desk_myinfo", 200),
        ("eu", "refresh", 200),
        ("eu", "revoke", 200),
        ("eu", "desk_organizations", 401),
    ]
    everything = json.dumps(control.requests()) + json.dumps(control.grants())
    for secret in (
        tokens["access_token"],
        tokens["refresh_token"],
        fresh["access_token"],
        params["code"],
        settings.ZOHO_CLIENT_SECRET,
        VERIFIER,
    ):
        assert secret not in everything


def test_deny_over_http(control):
    callback = control.consent(authorize_url(control), zuid=EU_ZUID, approve=False)
    assert query(callback) == {"error": "access_denied", "state": "live-state"}


def test_consent_helper_reports_an_error_page(control):
    with pytest.raises(SandboxError) as info:
        control.consent(authorize_url(control, client_id="1000.NOPE"), zuid=EU_ZUID)
    assert info.value.status == 400


def test_reset_fault_closes_the_connection(control, http):
    control.add_fault("reset", dc="eu", endpoint="refresh", count=1)
    with pytest.raises(httpx2.RemoteProtocolError):
        token_request(http, control.accounts_url("eu"), grant_type="refresh_token")
    assert control.requests(endpoint="refresh")[-1]["status"] is None
    answer = token_request(http, control.accounts_url("eu"), grant_type="refresh_token")
    assert answer.json() == {"error": "invalid_code"}


def test_hang_fault_outlasts_the_client_timeout(control, http):
    control.add_fault("hang", endpoint="desk_organizations", seconds=0.8, count=1)
    started = time.monotonic()
    with pytest.raises(httpx2.ReadTimeout):
        http.get(f"{control.desk_url('eu')}/api/v1/organizations", timeout=0.3)
    time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))  # let the server side finish
    assert control.requests(endpoint="desk_organizations")[-1]["fault"] == "hang"


def test_drip_fault_sends_the_answer_slowly(control, http):
    control.add_fault("drip", endpoint="serverinfo", interval=0.1, chunk=200, count=1)
    started = time.monotonic()
    body = http.get(f"{control.accounts_url('us')}/oauth/serverinfo").json()
    assert time.monotonic() - started >= 0.3
    assert body["result"] == "success"


def test_control_client_round_trip(control):
    control.reset()
    assert {user["dc"] for user in control.users()} >= {"us", "eu", "in", "au", "ca", "cn"}
    assert control.user(dc="cn")["zuid"] == "80000001"
    fault = control.add_fault("status", dc="eu", endpoint="refresh", status=502, count=1)
    assert control.faults()[0]["id"] == fault["id"]
    control.clear_fault(fault["id"])
    control.add_fault("latency", seconds=0)
    control.clear_faults()
    assert control.faults() == []
    control.set_access_token_lifetime(120)
    control.set_pkce_enforced(False)
    assert control.settings()["access_token_lifetime"] == 120
    assert control.settings()["pkce_enforced"] is False
    client = control.register_client(
        "1000.LIVE", "live-secret", ["https://live.example/cb"], dc_secrets={"eu": "eu-live"}
    )
    assert client["dcs_with_own_secret"] == ["eu"]
    callback = control.consent(authorize_url(control), zuid=EU_ZUID)
    assert control.requests(endpoint="auth", limit=1)[0]["status"] == 302
    code = query(callback)["code"]
    httpx2.post(
        f"{control.accounts_url('eu')}/oauth/v2/token",
        data={
            "grant_type": "authorization_code",
            "client_id": settings.ZOHO_CLIENT_ID,
            "client_secret": settings.ZOHO_CLIENT_SECRET,
            "redirect_uri": settings.ZOHO_REDIRECT_URI,
            "code": code,
        },
    )
    assert control.revoke_user_grants(EU_ZUID) == 1
    assert control.grants(zuid=EU_ZUID)[0]["revoked_reason"] == "user_revoked"
    with pytest.raises(SandboxError):
        control.add_fault("nonsense")
