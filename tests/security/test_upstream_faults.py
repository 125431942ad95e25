"""UP: Zoho failing, slow or lying, played by the sandbox's fault switches (section G)."""

import pytest

from portal.models import ZohoGrant
from tests.cast import EU
from tests.connecting import token_calls, wait_for

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
    [("invalid_code", "did not accept"), ("invalid_client", "settings are not right")],
)
def test_UP_04_an_error_in_a_200_body_is_an_error_and_no_token_row(portal, sandbox, error, message):
    connect_fails_cleanly(portal, sandbox, "error_200", message, error=error)
