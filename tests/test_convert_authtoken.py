"""``portal.zoho.convert_authtoken``: Zoho's migration API over real HTTP against the sandbox,
with each way it can fail classified for the caller (dead authtoken, wrong org, the portal's
client, Zoho unavailable or throttled)."""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.zoho import (
    DeadAuthtoken,
    WrongOrganization,
    ZohoError,
    ZohoMisconfigured,
    ZohoRejected,
    ZohoUnavailable,
    convert_authtoken,
    data_centre,
    organizations,
    refresh,
    user_info,
)
from tests.cast import CA, EU, US

pytestmark = pytest.mark.django_db(transaction=True)
US_ORG, EU_ORG = "60000002", "70000001"


def authtoken(sandbox, zuid: str) -> str:
    return str(next(row["authtoken"] for row in sandbox.authtokens() if row["zuid"] == zuid))


def failure(sandbox, dc: str, zuid: str, org_id: str, *, value: str | None = None) -> ZohoError:
    """The exception converting ``zuid``'s authtoken (or ``value``) raises, checked for leaks."""
    secret = value if value is not None else authtoken(sandbox, zuid)
    with pytest.raises(ZohoError) as raised:
        convert_authtoken(dc=data_centre(dc), authtoken=secret, org_id=org_id)
    error = raised.value
    assert not secret or secret not in f"{error} {error!r} {error.args} {error.code}"
    return error


def test_an_authtoken_becomes_a_grant_that_works_like_a_connected_one(sandbox):
    dc = data_centre("us")
    before = timezone.now()
    tokens = convert_authtoken(dc=dc, authtoken=authtoken(sandbox, US), org_id=US_ORG)
    assert tokens.refresh_token and tokens.access_token
    # expires_in_sec (3600) counts, not the legacy expires_in in milliseconds
    assert (
        before + timedelta(seconds=3590)
        < tokens.expires_at
        <= timezone.now() + timedelta(seconds=3600)
    )
    assert tokens.api_domain == "https://www.zohoapis.com"
    assert user_info(dc=dc, access_token=tokens.access_token).user_id == US
    assert {org.id for org in organizations(dc=dc, access_token=tokens.access_token)} == {
        "60000001",
        US_ORG,
    }
    assert refresh(dc=dc, refresh_token=tokens.refresh_token).access_token
    (call,) = sandbox.requests(endpoint="authtooauth")
    assert (call["dc"], call["zuid"], call["status"]) == ("us", US, 200)


def test_each_data_centre_converts_its_own_users(sandbox):
    tokens = convert_authtoken(
        dc=data_centre("eu"), authtoken=authtoken(sandbox, EU), org_id=EU_ORG
    )
    assert tokens.api_domain == "https://www.zohoapis.eu"
    ca = convert_authtoken(
        dc=data_centre("ca"), authtoken=authtoken(sandbox, CA), org_id="51000001"
    )
    assert ca.api_domain == "https://www.zohoapis.ca"


def test_the_token_set_hides_its_secrets(sandbox):
    tokens = convert_authtoken(
        dc=data_centre("eu"), authtoken=authtoken(sandbox, EU), org_id=EU_ORG
    )
    assert tokens.access_token not in repr(tokens) and str(tokens.refresh_token) not in repr(tokens)


@pytest.mark.parametrize(
    ("dc", "zuid", "value"),
    [
        ("us", US, "0123456789abcdef0123456789abcdef"),  # unknown to Zoho
        ("eu", US, None),  # the US user's authtoken at the EU server
    ],
)
def test_a_dead_authtoken_is_rejected_for_good(sandbox, dc, zuid, value):
    error = failure(sandbox, dc, zuid, US_ORG, value=value)
    assert isinstance(error, DeadAuthtoken) and isinstance(error, ZohoRejected)
    assert error.code == "dead_authtoken"


def test_the_dead_authtoken_switch(sandbox):
    sandbox.add_fault("dead_authtoken", zuid=US, count=1)
    assert isinstance(failure(sandbox, "us", US, US_ORG), DeadAuthtoken)


def test_an_org_that_is_not_the_users_is_the_wrong_org(sandbox):
    error = failure(sandbox, "us", US, EU_ORG)
    assert isinstance(error, WrongOrganization) and error.code == "wrong_org"
    sandbox.add_fault("wrong_org", count=1)
    assert isinstance(failure(sandbox, "us", US, US_ORG), WrongOrganization)


@pytest.mark.parametrize("org_id", ["", "abc", "6000 0002", "٦٠٠٠٠٠٠٢", "1" * 21, "1&soid=2"])
def test_a_non_numeric_org_id_is_refused_before_calling_zoho(sandbox, org_id):
    error = failure(sandbox, "us", US, org_id)
    assert isinstance(error, WrongOrganization) and error.code == "org_id_not_numeric"
    assert sandbox.requests(endpoint="authtooauth") == []


@pytest.mark.parametrize("value", ["", "abc\ndef", "authtoken-ü"])
def test_an_unusable_authtoken_is_refused_before_calling_zoho(sandbox, value):
    assert isinstance(failure(sandbox, "us", US, US_ORG, value=value), DeadAuthtoken)
    assert sandbox.requests(endpoint="authtooauth") == []


@pytest.mark.parametrize(
    "error", ["invalid_client", "invalid_client_secret", "unauthorized_client", "invalid_scope"]
)
def test_client_problems_are_the_portals_not_the_customers(sandbox, error):
    sandbox.add_fault("error_200", endpoint="authtooauth", error=error)
    raised = failure(sandbox, "us", US, US_ORG)
    assert isinstance(raised, ZohoMisconfigured) and raised.code == error


def test_throttling_is_retryable(sandbox):
    sandbox.add_fault("rate_limit", endpoint="authtooauth", count=1)
    error = failure(sandbox, "us", US, US_ORG)
    assert isinstance(error, ZohoUnavailable) and error.code == "throttled"
    assert error.retry_after == 60


def test_throttling_with_429_keeps_zohos_retry_after(sandbox):
    sandbox.add_fault("status", endpoint="authtooauth", status=429, retry_after=120, count=1)
    error = failure(sandbox, "us", US, US_ORG)
    assert isinstance(error, ZohoUnavailable) and error.code == "throttled"
    assert error.retry_after == 120


@pytest.mark.parametrize(
    ("kind", "params", "code"),
    [
        ("status", {"status": 503}, "http_503"),
        ("reset", {}, "connection_failed"),
        ("malformed_json", {}, "malformed_response"),
        ("html_200", {}, "malformed_response"),
        ("token_field", {"field": "refresh_token"}, "malformed_response"),
        ("api_domain", {"value": "https://www.zohoapis.com.evil.example"}, "malformed_response"),
        ("error_200", {"error": "server_error"}, "error_server_error"),
    ],
)
def test_outages_and_malformed_answers_are_retryable(sandbox, kind, params, code):
    sandbox.add_fault(kind, endpoint="authtooauth", **params)
    error = failure(sandbox, "us", US, US_ORG)
    assert isinstance(error, ZohoUnavailable) and error.code == code


def test_no_log_line_names_the_authtoken(sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    value = authtoken(sandbox, US)
    convert_authtoken(dc=data_centre("us"), authtoken=value, org_id=US_ORG)
    sandbox.add_fault("dead_authtoken", count=1)
    failure(sandbox, "us", US, US_ORG)
    sandbox.add_fault("status", endpoint="authtooauth", status=503, count=1)
    failure(sandbox, "us", US, US_ORG)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("portal")]
    assert any("zoho authtooauth dc=us outcome=ok" in line for line in lines)
    assert any("outcome=dead_authtoken" in line for line in lines)
    assert value not in caplog.text
