"""Every field of Zoho's answers is hostile until checked (UP-03, UP-07, IV).

Each case runs over real HTTP against the sandbox's faults, through the token API (the path a
backend takes), and checks a clean failure: a 503 problem (never a 500), the grant's tokens,
expiry and API domain byte-identical (NO-LOSS), the failure bookkept and AUDITED, and none of
the sandbox's tokens in the answer (NO-LEAK).
"""

import json

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from portal.crypto import decrypt_token
from portal.models import ZohoGrant
from tests.api_calls import post_token
from tests.cast import EU

pytestmark = pytest.mark.django_db(transaction=True)

KEPT = (
    "refresh_token_encrypted",
    "access_token_encrypted",
    "access_token_expires_at",
    "api_domain",
    "last_refreshed_at",
)


def kept(grant):
    row = ZohoGrant.objects.values(*KEPT).get(pk=grant.pk)
    return {name: bytes(v) if isinstance(v, memoryview) else v for name, v in row.items()}


def refresh_fails_cleanly(client, grant, raw_key, sandbox, *, code):
    """The refresh Zoho answered was refused as ``code`` with nothing of the grant changed."""
    before = kept(grant)
    response = post_token(client, grant, raw_key)
    assert response.status_code == 503, response.content[:300]
    assert response.json()["code"] == "upstream_unavailable"
    assert "access_token" not in response.content.decode()
    assert [r["endpoint"] for r in sandbox.requests()].count("refresh") == 1
    assert kept(grant) == before  # NO-LOSS
    grant.refresh_from_db()
    assert (grant.status, grant.last_error) == ("trouble", code)
    event = AuditEvent.objects.get(action="grant.refresh_failed", grant_id=grant.pk)
    assert event.detail["error"] == code


def test_UP_03_api_domain_other_than_the_data_centres_is_refused_on_refresh(
    client, expired, service_key, sandbox
):
    sandbox.add_fault("api_domain", endpoint="refresh", value="https://www.zohoapis.evil.example")
    refresh_fails_cleanly(client, expired, service_key, sandbox, code="malformed_response")


def test_UP_03_api_domain_other_than_the_data_centres_is_refused_on_connect(portal, sandbox, alice):
    sandbox.add_fault("api_domain", endpoint="token", value="https://www.zohoapis.com")  # US's
    response = portal.connect(EU)
    assert response["Location"] == "/connections/failed/"
    assert not ZohoGrant.objects.filter(user=alice).exists()


def test_UP_03_the_tables_api_domain_is_stored_and_handed_out(
    client, portal, sandbox, alice, service_key
):
    sandbox.add_fault("api_domain", value="https://WWW.ZohoApis.eu/")  # the same host, spelt
    assert portal.connect(EU).status_code == 303
    grant = ZohoGrant.objects.get(user=alice)
    assert grant.api_domain == "https://www.zohoapis.eu"
    ZohoGrant.objects.filter(pk=grant.pk).update(access_token_expires_at=timezone.now())
    response = post_token(client, grant, service_key)
    assert response.status_code == 200
    assert response.json()["api_domain"] == "https://www.zohoapis.eu"


def test_UP_03_gzip_bomb_stops_at_the_size_cap_once_inflated(client, expired, service_key, sandbox):
    # About 64 KB as sent (under the cap), 64 MiB inflated: stopped at the cap while inflating.
    sandbox.add_fault("gzip_bomb", endpoint="refresh", size=64 * 1024 * 1024)
    refresh_fails_cleanly(client, expired, service_key, sandbox, code="response_too_large")


def test_UP_03_deeply_nested_json_is_a_malformed_answer_not_a_500(
    client, expired, service_key, sandbox
):
    sandbox.add_fault("deep_json", endpoint="refresh", depth=100_000)
    refresh_fails_cleanly(client, expired, service_key, sandbox, code="malformed_response")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("token_type", '"mac"'),
        ("token_type", ""),  # removed
        ("expires_in", '"3600"'),
        ("expires_in", "0"),
        ("expires_in", "-5"),
        ("expires_in", "{}"),
        ("expires_in", "true"),
        ("expires_in", "1e999"),  # infinity
        ("expires_in", ""),
        ("access_token", '""'),
        ("access_token", "12345678901234"),
        ("access_token", json.dumps("1000." + "a" * 5000)),
        ("api_domain", "123"),
        ("api_domain", '["https://www.zohoapis.eu"]'),
        ("api_domain", ""),
    ],
)
def test_iv_token_answer_fields_are_checked_for_type_and_range(
    client, expired, service_key, sandbox, field, value
):
    sandbox.add_fault("token_field", endpoint="refresh", field=field, value=value)
    refresh_fails_cleanly(client, expired, service_key, sandbox, code="malformed_response")


@pytest.mark.parametrize("value", ["12345678901234", '""', '{"token": "1000.x"}'])
def test_UP_07_a_rotated_refresh_token_of_the_wrong_shape_is_refused(
    client, expired, service_key, sandbox, value
):
    sandbox.add_fault("token_field", endpoint="refresh", field="refresh_token", value=value)
    refresh_fails_cleanly(client, expired, service_key, sandbox, code="malformed_response")


def test_up_07_a_rotated_refresh_token_is_stored_and_the_old_one_is_gone(
    client, expired, service_key, sandbox
):
    """Zoho rotating the refresh token: the new one replaces the old in the same commit as
    the access token, and the next refresh works with it (the old one is dead at Zoho)."""
    old = decrypt_token(expired.refresh_token_encrypted, context=str(expired.pk))
    sandbox.add_fault("rotate_refresh_token", count=1)
    assert post_token(client, expired, service_key).status_code == 200
    expired.refresh_from_db()
    new = decrypt_token(expired.refresh_token_encrypted, context=str(expired.pk))
    assert new != old
    assert AuditEvent.objects.get(action="grant.refreshed", grant_id=expired.pk).detail == {
        "recovered": False,
        "rotated": True,
    }
    ZohoGrant.objects.filter(pk=expired.pk).update(access_token_expires_at=timezone.now())
    assert post_token(client, expired, service_key).status_code == 200  # the old one is dead
    assert [r["endpoint"] for r in sandbox.requests()].count("refresh") == 2
