"""Zoho facts that must not condemn a healthy grant or a good callback: an organization-level
refusal from Desk, China's missing ``location`` (OA-03), ``access_denied`` doubling as Zoho's
grant-code limit (OA-15)."""

from urllib.parse import urlencode

import pytest

from accounts.models import AuditEvent
from portal.grants.checkup import check_connection
from portal.models import ZohoGrant
from portal.upkeep.sweeps import CheckOutcome, check_grant
from tests.cast import CN, EU, US
from tests.connecting import query_of, token_calls

pytestmark = pytest.mark.django_db(transaction=True)


def test_OA_03_china_callback_without_location_uses_the_pinned_data_centre(portal, sandbox, alice):
    callback = query_of(sandbox.consent(portal.start(region="cn"), zuid=CN))
    del callback["location"]
    response = portal.client.get(f"/connections/callback/?{urlencode(callback)}")
    grant = ZohoGrant.objects.get(user=alice)
    assert response["Location"] == f"/connections/{grant.pk}/"
    assert (grant.data_centre, grant.accounts_server) == ("cn", sandbox.accounts_url("cn"))
    assert [r["dc"] for r in token_calls(sandbox)] == ["cn"]


@pytest.mark.parametrize("server_dc", ["eu", "us"])
def test_OA_03_china_callback_without_location_naming_another_server_is_refused(
    portal, sandbox, server_dc
):
    callback = query_of(sandbox.consent(portal.start(region="cn"), zuid=CN))
    del callback["location"]
    callback["accounts-server"] = sandbox.accounts_url(server_dc)
    response = portal.client.get(f"/connections/callback/?{urlencode(callback)}")
    assert response["Location"] == "/connections/failed/"
    assert token_calls(sandbox) == []  # NO-EGRESS
    assert not ZohoGrant.objects.exists()
    event = AuditEvent.objects.get(action="grant.connect_failed")
    assert event.detail["reason"] == "untrusted_server"


def test_OA_03_global_callback_without_location_is_still_refused(portal, sandbox):
    """Only China's start server is the user's own DC; a global start pins no DC."""
    callback = query_of(sandbox.consent(portal.start(), zuid=EU))
    del callback["location"]
    response = portal.client.get(f"/connections/callback/?{urlencode(callback)}")
    assert response["Location"] == "/connections/failed/"
    assert token_calls(sandbox) == []


@pytest.mark.parametrize("how", ["deny", "code_limit"])
def test_OA_15_access_denied_mentions_zohos_grant_code_limit(portal, sandbox, how):
    if how == "code_limit":  # Zoho's answer once its 10-codes-in-10-minutes limit is hit
        sandbox.add_fault("callback_error", error="access_denied")
    response = portal.connect(EU, approve=how != "deny")
    assert response["Location"] == "/connections/failed/"
    page = portal.client.get("/connections/failed/").content.decode()
    assert "You declined" in page
    assert "too many connections were started" in page and "wait ten minutes" in page
    assert token_calls(sandbox) == []


def org_refusal(sandbox, code, count=1):
    body = f'{{"errorCode": "{code}", "message": "no"}}'
    sandbox.add_fault(
        "status",
        endpoint="desk_myinfo",
        status=401,
        body=body,
        content_type="application/json",
        count=count,
    )


@pytest.mark.parametrize("code", ["OAUTH_ORG_MISMATCH", "UNAUTHORIZED"])
def test_health_check_reports_an_organization_refusal_without_condemning_the_grant(
    portal, sandbox, alice, code
):
    portal.connect(US)
    grant = ZohoGrant.objects.get(user=alice)
    org_refusal(sandbox, code)  # the first organization refuses, the second answers
    assert check_grant(grant_id=grant.pk) is CheckOutcome.HEALTHY
    grant.refresh_from_db()
    assert grant.status == "active"
    myinfo = [r for r in sandbox.requests() if r["endpoint"] == "desk_myinfo"]
    assert len(myinfo) == 2  # each organization asked


def test_connection_test_names_the_refusing_organization(portal, sandbox, alice):
    portal.connect(US)
    grant = ZohoGrant.objects.get(user=alice)
    org_refusal(sandbox, "OAUTH_ORG_MISMATCH")
    result = check_connection(grant_id=grant.pk)
    assert result.ok and len(result.refused_organizations) == 1
    assert "does not let this grant into that organization" in result.message
    grant.refresh_from_db()
    assert grant.status == "active"


def test_single_organization_refusing_leaves_the_grant_active(connected, sandbox):
    org_refusal(sandbox, "OAUTH_ORG_MISMATCH", count=10)
    result = check_connection(grant_id=connected.pk)
    assert result.ok and result.refused_organizations == ("Example Support",)
    connected.refresh_from_db()
    assert connected.status == "active"


def test_refusal_after_a_fresh_refresh_still_condemns_the_grant(connected, sandbox):
    body = '{"errorCode": "INVALID_OAUTH", "message": "no"}'
    sandbox.add_fault(
        "status",
        endpoint="desk_organizations",
        status=401,
        body=body,
        content_type="application/json",
    )
    assert check_grant(grant_id=connected.pk) is CheckOutcome.NEEDS_RECONNECT
    refreshes = [r for r in sandbox.requests() if r["endpoint"] == "refresh"]
    assert len(refreshes) == 1  # refreshed once, then retried, then condemned
