"""The Desk proxy (``/api/v1/grants/{id}/desk/<path>``) over real HTTP to the sandbox's Desk:
every method with its query, body and orgId, the one retry on INVALID_OAUTH, Desk's rate
limits relayed, the token API's refusals, and the token never in an answer or a log."""

import json
import logging

import pytest

from portal.crypto import decrypt_token
from portal.models import ZohoGrant
from tests.cast import US
from tests.connecting import expire
from tests.leaks import assert_no_leak

pytestmark = pytest.mark.django_db(transaction=True)
JSON = {"Content-Type": "application/json"}


def _desk_requests(sandbox):
    """The sandbox's record of the ticket calls (connecting called organizations and myinfo)."""
    return [r for r in sandbox.requests() if r["endpoint"] in ("desk_tickets", "desk_ticket")]


def test_every_method_is_forwarded_with_its_query_body_and_org(desk_api, sandbox):
    client, _ = desk_api
    made = [
        client.post("tickets", content=json.dumps({"subject": f"Printer {n}"}), headers=JSON)
        for n in (1, 2, 3)
    ]
    assert [r.status_code for r in made] == [200, 200, 200]
    assert [r.json()["subject"] for r in made] == ["Printer 1", "Printer 2", "Printer 3"]
    ticket_id = made[0].json()["id"]

    page = client.get("tickets", params={"from": 1, "limit": 2})
    assert page.status_code == 200
    assert [t["subject"] for t in page.json()["data"]] == ["Printer 2", "Printer 3"]
    assert page.headers["content-type"] == "application/json"
    assert page.headers["cache-control"] == "no-store"

    changed = client.patch(f"tickets/{ticket_id}", json={"status": "Closed"})
    assert changed.status_code == 200 and changed.json()["status"] == "Closed"
    assert client.get(f"tickets/{ticket_id}").json()["status"] == "Closed"
    put = client.put(f"tickets/{ticket_id}", json={"status": "Open"})
    assert put.status_code == 405 and put.json()["errorCode"] == "METHOD_NOT_ALLOWED"
    assert client.delete(f"tickets/{ticket_id}").status_code == 204
    gone = client.get(f"tickets/{ticket_id}")
    assert gone.status_code == 404 and gone.json()["errorCode"] == "URL_NOT_FOUND"
    bad = client.get("tickets", params={"limit": 500})
    assert bad.status_code == 422 and bad.json()["errorCode"] == "UNPROCESSABLE_ENTITY"

    seen = _desk_requests(sandbox)
    assert [r["method"] for r in seen] == ["POST"] * 3 + ["GET", "PATCH", "GET", "PUT"] + [
        "DELETE",
        "GET",
        "GET",
    ]
    # the grant's one organization (PUT was refused before Desk looked at orgId)
    assert {r["org_id"] for r in seen if r["method"] != "PUT"} == {"70000001"}


def test_org_id_is_the_callers_when_the_grant_reaches_it(desk_api, sandbox, portal, alice):
    client, _ = desk_api
    assert portal.connect(US).status_code == 303  # the us user: two organizations
    grant = ZohoGrant.objects.get(user=alice, zoho_user_id=US)
    org_ids = [org["id"] for org in grant.organizations]
    assert len(org_ids) == 2
    path = f"/api/v1/grants/{grant.pk}/desk/tickets"
    base = str(client.base_url).split("/api/v1/")[0]
    no_org = client.get(f"{base}{path}")
    assert no_org.status_code == 422  # no default with two: Desk asks for orgId
    second = client.post(
        f"{base}{path}", json={"subject": "Second org"}, headers={"orgId": org_ids[1]}
    )
    assert second.status_code == 200
    before = len(sandbox.requests())
    foreign = client.get(f"{base}{path}", headers={"orgId": "70000001"})  # another user's org
    assert foreign.status_code == 400 and foreign.json()["code"] == "unknown_org"
    assert len(sandbox.requests()) == before  # refused before anything was sent
    assert _desk_requests(sandbox)[-1]["org_id"] == org_ids[1]


def test_invalid_oauth_refreshes_the_token_and_retries_once(desk_api, sandbox):
    client, grant = desk_api
    sandbox.add_fault("invalid_oauth", endpoint="desk_tickets", count=1)
    answer = client.post("tickets", json={"subject": "After a refresh"})
    assert answer.status_code == 200 and answer.json()["subject"] == "After a refresh"
    calls = [(r["endpoint"], r["status"]) for r in sandbox.requests()]
    assert calls[-3:] == [("desk_tickets", 401), ("refresh", 200), ("desk_tickets", 200)]
    before = grant.access_token_encrypted
    grant.refresh_from_db()
    assert grant.access_token_encrypted != before


def test_a_token_refreshed_for_this_call_and_refused_is_replaced(desk_api, sandbox):
    client, grant = desk_api
    expire(grant)
    sandbox.add_fault("invalid_oauth", endpoint="desk_tickets", count=1)
    answer = client.post("tickets", json={"subject": "Twice fresh"})
    assert answer.status_code == 200
    calls = [(r["endpoint"], r["status"]) for r in sandbox.requests()][-4:]
    refused, retried = [("refresh", 200), ("desk_tickets", 401)], [("refresh", 200)]
    assert calls == [*refused, *retried, ("desk_tickets", 200)]


def test_a_second_invalid_oauth_is_relayed_after_one_refresh(desk_api, sandbox):
    client, _ = desk_api
    sandbox.add_fault("invalid_oauth", endpoint="desk_tickets", count=5)
    answer = client.get("tickets")
    assert answer.status_code == 401 and answer.json()["errorCode"] == "INVALID_OAUTH"
    endpoints = [r["endpoint"] for r in sandbox.requests()]
    assert endpoints.count("refresh") == 1
    assert endpoints.count("desk_tickets") == 2


def test_desk_rate_limits_are_relayed_with_retry_after(desk_api, sandbox):
    client, _ = desk_api
    sandbox.add_fault("rate_limit", endpoint="desk_tickets", retry_after=30, count=1)
    answer = client.get("tickets")
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "30"
    assert answer.headers["x-rate-limit-remaining"] == "0"
    assert answer.json()["errorCode"] == "TOO_MANY_REQUESTS"
    assert [r["endpoint"] for r in sandbox.requests()].count("refresh") == 0


def test_the_access_token_appears_in_no_answer_and_no_log(desk_api, sandbox, caplog):
    client, grant = desk_api
    caplog.set_level(logging.DEBUG)
    sandbox.add_fault("invalid_oauth", endpoint="desk_tickets", count=1)  # two tokens in play
    old_token = decrypt_token(grant.access_token_encrypted, context=str(grant.pk))
    answers = [
        client.post("tickets", json={"subject": "Secret-free"}),
        client.get("tickets"),
        client.get("organizations"),
        client.get("myinfo"),
    ]
    grant.refresh_from_db()
    new_token = decrypt_token(grant.access_token_encrypted, context=str(grant.pk))
    assert old_token != new_token
    texts = [a.text + json.dumps(list(a.headers.multi_items())) for a in answers]
    assert [a.status_code for a in answers] == [200, 200, 200, 200]
    assert_no_leak([old_token, new_token], *texts, caplog.text)


@pytest.mark.parametrize("status", ["needs_reconnect", "revoked", "revoking"])
def test_a_grant_that_hands_out_no_token_gives_the_token_apis_409(
    desk_api, sandbox, status, live_server
):
    client, grant = desk_api
    ZohoGrant.objects.filter(pk=grant.pk).update(status=status)
    answer = client.get("tickets")
    token_api = client.post(f"{live_server.url}/api/v1/grants/{grant.pk}/access-token")
    assert answer.status_code == token_api.status_code == 409
    assert answer.json()["code"] == token_api.json()["code"] == status
    assert answer.headers["content-type"] == "application/problem+json"
    assert _desk_requests(sandbox) == []


def test_a_grant_the_key_cannot_find_is_404_and_no_key_is_401(desk_api, live_server):
    client, _ = desk_api
    base = f"{live_server.url}/api/v1/grants"
    missing = client.get(f"{base}/00000000-0000-4000-8000-000000000000/desk/tickets")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    anonymous = client.get("tickets", headers={"Authorization": ""})
    assert anonymous.status_code == 401


def test_desk_unreachable_is_502(desk_api, sandbox):
    client, _ = desk_api
    sandbox.add_fault("reset", endpoint="desk_tickets", count=1)
    dropped = client.get("tickets")
    assert dropped.status_code == 502 and dropped.json()["code"] == "desk_unreachable"
    assert dropped.headers["content-type"] == "application/problem+json"
    # a slow Desk (504) and a huge or dripping answer: tests/security/test_desk_proxy.py
