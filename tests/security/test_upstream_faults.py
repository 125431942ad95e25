"""UP: Zoho failing, slow or lying, played by the sandbox's fault switches (section G)."""

from datetime import timedelta

import pytest

from accounts.models import AuditEvent
from portal.grants import tokens
from portal.models import ZohoGrant
from tests.cast import EU
from tests.connecting import expire, refreshes, token_calls, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def connect_fails_cleanly(portal, sandbox, fault: str, message: str, **params) -> None:
    """With ``fault`` on the token endpoint, connecting ends on the failure page with ``message``,
    nothing stored, and the single-use code sent once (never retried)."""
    sandbox.add_fault(fault, endpoint="token", **params)
    response = portal.connect(EU)
    assert response["Location"] == "/connections/failed/"
    page = portal.client.get("/connections/failed/").content.decode()
    assert message in page and "Try again" in page
    assert "being upgraded" not in page  # the sandbox's HTML answer is never echoed
    assert not ZohoGrant.objects.exists()
    if fault == "hang":  # the sandbox records a hung call when it ends: wait for it
        wait_for(lambda: token_calls(sandbox))
    assert len(token_calls(sandbox)) == 1


def test_UP_01_a_hung_token_endpoint_ends_the_connect_cleanly(portal, sandbox):
    connect_fails_cleanly(portal, sandbox, "hang", "did not answer properly", seconds=4)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_UP_02_a_5xx_from_the_token_endpoint_is_not_retried_and_stores_nothing(
    portal, sandbox, status
):
    connect_fails_cleanly(portal, sandbox, "status", "did not answer properly", status=status)


@pytest.mark.parametrize(
    ("fault", "params", "message"),
    [
        ("malformed_json", {}, "did not answer properly"),
        ("html_200", {}, "did not answer properly"),
        ("redirect", {"location": "https://evil.example/"}, "did not answer properly"),
        ("oversized", {"size": 2_000_000}, "did not answer properly"),
        ("omit_refresh_token", {}, "offline access"),
    ],
)
def test_UP_03_a_malformed_token_answer_ends_cleanly_with_nothing_stored(
    portal, sandbox, fault, params, message
):
    connect_fails_cleanly(portal, sandbox, fault, message, **params)


@pytest.mark.parametrize(
    ("error", "message"),
    [("invalid_code", "did not accept"), ("invalid_client", "not something you did")],
)
def test_UP_04_an_error_in_a_200_body_is_an_error_and_no_token_row(portal, sandbox, error, message):
    connect_fails_cleanly(portal, sandbox, "error_200", message, error=error)


def test_UP_06_a_fresh_token_is_served_without_calling_zoho(make_grant):
    grant = make_grant()
    issued = tokens.get_access_token(grant_id=grant.pk)
    assert issued.access_token and not issued.refreshed


def test_UP_05_refresh_rejected_by_zoho_needs_reconnect_and_is_audited_once(expired, sandbox):
    sandbox.revoke_user_grants(EU)
    for _ in range(3):
        with pytest.raises(tokens.GrantInactive):
            tokens.get_access_token(grant_id=expired.pk)
    expired.refresh_from_db()
    assert expired.status == "needs_reconnect" and expired.last_error == "invalid_code"
    assert expired.refresh_token_encrypted is not None  # kept: never wiped by a refresh
    assert len(refreshes(sandbox)) == 1
    assert AuditEvent.objects.filter(action="grant.refresh_failed").count() == 1


@pytest.mark.parametrize(
    ("fault", "params"),
    [
        ("status", {"status": 503, "retry_after": 30}),
        ("status", {"status": 500}),
        ("rate_limit", {}),
        ("malformed_json", {}),
        ("html_200", {}),
        ("reset", {}),
    ],
)
def test_UP_02_transient_refresh_failures_keep_the_grant_and_back_off(
    expired, sandbox, fault, params
):
    before = bytes(expired.refresh_token_encrypted)
    sandbox.add_fault(fault, endpoint="refresh", **params)
    for _ in range(3):
        with pytest.raises(tokens.GrantUnavailable) as caught:
            tokens.get_access_token(grant_id=expired.pk)
        assert caught.value.retry_after and caught.value.retry_after > 0
    expired.refresh_from_db()
    assert expired.status == "trouble" and expired.failure_count == 1
    assert bytes(expired.refresh_token_encrypted) == before
    assert len(refreshes(sandbox)) <= 1  # later callers wait for the back-off


@pytest.mark.parametrize(
    ("fault", "params"),
    [("rate_limit", {}), ("rate_limit", {"status": 429}), ("status", {"status": 503})],
)
def test_UP_06_a_still_valid_token_is_served_while_zoho_refuses_refreshes(
    portal, sandbox, alice, fault, params
):
    """Zoho's refresh limit (or an outage) while the stored token is still valid: the caller
    gets the stored token, with no failure to see."""
    portal.connect(EU)
    grant = ZohoGrant.objects.get(user=alice)
    sandbox.add_fault(fault, endpoint="refresh", **params)
    issued = tokens.get_access_token(grant_id=grant.pk, min_valid=timedelta(minutes=59, seconds=59))
    assert issued.access_token and not issued.refreshed


def test_UP_02_api_answers_503_with_retry_after_when_zoho_fails(api, sandbox):
    client, grant = api
    expire(grant)
    sandbox.add_fault("status", endpoint="refresh", status=503)
    response = client.post(f"/grants/{grant.pk}/access-token")
    assert response.status_code == 503
    assert response.json()["code"] == "upstream_unavailable"
    assert int(response.headers["Retry-After"]) >= 1


def test_UP_05_revoked_in_zoho_is_409_needs_reconnect_through_the_api(api, sandbox):
    client, grant = api
    expire(grant)
    sandbox.revoke_user_grants(EU)
    response = client.post(f"/grants/{grant.pk}/access-token")
    assert response.status_code == 409 and response.json()["code"] == "needs_reconnect"


def test_UP_08_revoke_through_the_api_while_zoho_is_down_is_202(api, sandbox):
    client, grant = api
    sandbox.add_fault("status", endpoint="revoke", status=503)
    response = client.post(f"/grants/{grant.pk}/revoke")
    assert response.status_code == 202 and response.json()["grant_status"] == "revoking"
    assert client.post(f"/grants/{grant.pk}/access-token").json()["code"] == "revoking"


def test_UP_08_revoke_when_zoho_is_down_stays_revoking_and_hands_out_nothing(
    portal, sandbox, connected
):
    sandbox.add_fault("status", endpoint="revoke", status=503)
    response = portal.client.post(f"/connections/{connected.pk}/revoke/", follow=True)
    assert "Zoho did not confirm yet" in response.content.decode()
    connected.refresh_from_db()
    assert connected.status == "revoking" and connected.refresh_token_encrypted is not None
    from portal.grants import tokens

    with pytest.raises(tokens.GrantInactive):
        tokens.get_access_token(grant_id=connected.pk)
    sandbox.clear_faults()
    portal.client.post(f"/connections/{connected.pk}/revoke/")
    connected.refresh_from_db()
    assert connected.status == "revoked"


def test_UP_09_revoke_of_a_token_zoho_no_longer_knows_counts_as_revoked(portal, sandbox, connected):
    sandbox.revoke_user_grants(EU)
    portal.client.post(f"/connections/{connected.pk}/revoke/")
    connected.refresh_from_db()
    assert connected.status == "revoked"
