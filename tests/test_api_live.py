"""The token API over real HTTP: refresh through the API, failures as problems, revoke,
and a schemathesis run of the whole OpenAPI document against the live server."""

from datetime import timedelta

import httpx2
import pytest
import schemathesis
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.core.result import Ok

from portal.api.keys import create_service_key
from portal.crypto import decrypt_token
from portal.models import ZohoGrant
from tests.connecting import expire
from tests.leaks import assert_no_leak

pytestmark = pytest.mark.django_db(transaction=True)


def test_expired_grant_is_refreshed_through_the_api(api, sandbox):
    client, grant = api
    expire(grant)
    response = client.post(f"/grants/{grant.pk}/access-token")
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Zoho-oauthtoken" and body["grant_status"] == "active"
    assert body["desk_api_base"].endswith("/sandbox/eu/desk/api/v1")
    assert body["org_ids"] == ["70000001"]
    assert [r["endpoint"] for r in sandbox.requests()].count("refresh") == 1
    grant.refresh_from_db()
    refresh_token = decrypt_token(grant.refresh_token_encrypted, context=str(grant.pk))
    listing = client.get("/grants").text + client.get(f"/grants/{grant.pk}").text
    assert_no_leak([refresh_token], response.text, listing)
    desk = httpx2.get(
        f"{body['desk_api_base']}/organizations",
        headers={"Authorization": f"Zoho-oauthtoken {body['access_token']}"},
    )
    assert desk.status_code == 200  # the handed-out token really works at Desk


def test_force_refresh_through_the_api(api, sandbox):
    client, grant = api
    ZohoGrant.objects.filter(pk=grant.pk).update(
        last_refreshed_at=timezone.now() - timedelta(minutes=5)
    )
    first = client.post(f"/grants/{grant.pk}/access-token", json={"force_refresh": True})
    assert first.status_code == 200
    again = client.post(f"/grants/{grant.pk}/access-token", json={"force_refresh": True})
    assert again.status_code == 429 and again.json()["code"] == "refresh_too_soon"
    assert [r["endpoint"] for r in sandbox.requests()].count("refresh") == 1


def test_api_matches_its_openapi_document(live_server, sandbox, make_grant, settings):
    """Schemathesis generates requests for every operation in /api/v1/openapi.json and
    checks each answer against the document (status codes, content types, schemas) and
    that none is a server error."""
    settings.API_AUTH_FAILURES_PER_MINUTE = 10_000  # schemathesis probes without a key a lot
    grant = make_grant()
    _, raw_key = create_service_key(name="schemathesis")
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/openapi.json")
    schema.config.update(base_url=f"{live_server.url}/api/v1")
    headers = {"Authorization": f"Bearer {raw_key}"}
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # an Err: the document failed to load
        operations.append(result.ok())
    # 5 of the token API, connect sessions, 5 methods of the Desk proxy, 4 of webhooks
    assert len(operations) == 15

    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=25, deadline=None, suppress_health_check=list(HealthCheck)
        )
        def check(case):
            if "grant_id" in (case.path_parameters or {}) and case.path_parameters[
                "grant_id"
            ].endswith("0"):
                case.path_parameters["grant_id"] = str(grant.pk)  # reach the found-grant paths too
            if case.query:
                case.query.pop("cursor", None)  # opaque: only cursors the API issued are valid
            if isinstance(case.body, dict):
                case.body.pop("return_url", None)  # only the operator's allowlist makes one valid
            case.call_and_validate(headers=headers)

        check()
