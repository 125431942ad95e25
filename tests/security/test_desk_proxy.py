"""PX: the Desk proxy's host, path and limits (security checklist, section J).

Paths are sent byte for byte (``http.client``), so no client normalises them first. Two
witnesses watch for egress: the sandbox's request record (a traversal to its accounts
endpoints would be recorded there) and a decoy listener named in the host tricks.
"""

import http.client
import json
import logging
import time
from urllib.parse import urlsplit

import httpx2
import pytest

from portal.crypto import decrypt_token
from portal.zoho import data_centre
from portal.zoho.desk_proxy import UnsafeDeskPath, desk_call
from tests.leaks import assert_no_leak

pytestmark = pytest.mark.django_db(transaction=True)
MIB = 1024 * 1024


def _raw(url: str, method: str, target: str, headers: dict[str, str], body: bytes = b""):
    """One request with ``target`` sent exactly as written; (status, headers, body)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=20)
    try:
        connection.putrequest(method, target, skip_host=False, skip_accept_encoding=True)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            connection.putheader(name, value)
        connection.endheaders(body or None)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def _tricks(decoy: str) -> list[str]:
    host = decoy.removeprefix("http://")
    return [
        "../organizations",
        "tickets/../../../accounts/oauth/user/info",
        "%2e%2e/%2e%2e/%2e%2e/accounts/oauth/user/info",
        "%2E%2E%2F%2E%2E%2F%2E%2E%2Faccounts%2Foauth%2Fuser%2Finfo",
        "tickets%2f..%2f..%2f..%2faccounts%2foauth%2fuser%2finfo",
        "%252e%252e/%252e%252e/accounts/oauth/user/info",
        "..%5c..%5c..%5caccounts%5coauth%5cuser%5cinfo",
        "tickets\\..\\..\\..\\accounts",
        f"/{host}/x",
        f"//{host}/x",
        f"http://{host}/x",
        f"http:%2f%2f{host}/x",
        f"@{host}/x",
        f"tickets@{host}",
        f"tickets?x=1#@{host}/",
        ".",
        "tickets/./1",
        "tickets/.../1",
        "tickets//1",
        "%00",
        "t%C3%AFckets",
    ]


def test_PX_01_paths_and_hosts_that_leave_the_desk_base_are_refused(desk_api, sandbox, decoy):
    client, grant = desk_api
    before = len(sandbox.requests())
    prefix = f"/api/v1/grants/{grant.pk}/desk/"
    key = {"Authorization": f"Bearer {client.raw_key}"}
    answers = {}
    for trick in _tricks(decoy.url):
        status, headers, body = _raw(str(client.base_url), "GET", prefix + trick, key)
        answers[trick] = (status, json.loads(body).get("code") if body[:1] == b"{" else None)
    refused = {trick: answer for trick, answer in answers.items() if answer[0] in (400, 404)}
    assert refused == answers  # every trick refused (400 desk_path_refused, or no such URL)
    assert {code for status, code in answers.values() if status == 400} == {"desk_path_refused"}
    assert len(sandbox.requests()) == before  # nothing reached the sandbox, Desk or accounts
    assert decoy.hits == []


@pytest.mark.parametrize(
    "path",
    ["../x", "a/../../x", "a//b", "a\\b", "%2e%2e", "a:b", "@evil.example", "http://evil.example"],
)
def test_PX_01_only_plain_paths_under_the_base_make_a_desk_call(settings, path):
    settings.SANDBOX_BASE_URL = "http://127.0.0.1:8000/sandbox"
    dc = data_centre("eu")
    with pytest.raises(UnsafeDeskPath):
        desk_call(dc=dc, method="GET", path=path, query="", headers={}, body=b"")
    call = desk_call(dc=dc, method="GET", path="tickets/1", query="a=1", headers={}, body=b"")
    assert str(call.url) == f"{dc.desk_api_base}/tickets/1?a=1"


def test_PX_01_the_token_never_appears_in_answers_headers_or_logs(desk_api, sandbox, caplog):
    client, grant = desk_api
    caplog.set_level(logging.DEBUG)
    answers = [
        client.get("tickets"),
        client.post("tickets", json={"subject": "x"}),
        client.get("tickets/999"),
        client.get("../x"),
    ]
    grant.refresh_from_db()
    token = decrypt_token(grant.access_token_encrypted, context=str(grant.pk))
    texts = [a.text + json.dumps(list(a.headers.multi_items())) for a in answers]
    assert_no_leak([token], *texts, caplog.text)


def test_PX_02_an_oversized_request_body_is_refused_unsent(desk_api, sandbox):
    client, _ = desk_api
    before = len(sandbox.requests())
    body = json.dumps({"subject": "big", "description": "x" * (MIB + 10)})
    answer = client.post("tickets", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 413 and answer.json()["code"] == "body_too_large"
    assert len(sandbox.requests()) == before
    fits = client.post("tickets", json={"subject": "fits", "description": "x" * (MIB // 2)})
    assert fits.status_code == 200


def test_PX_02_a_body_without_a_length_is_refused_not_emptied(desk_api, sandbox):
    client, grant = desk_api
    before = len(sandbox.requests())
    parts = urlsplit(str(client.base_url))
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=20)
    try:
        connection.request(
            "POST",
            f"/api/v1/grants/{grant.pk}/desk/tickets",
            body=iter([b'{"subject": ', b'"chunked"}']),
            headers={"Authorization": f"Bearer {client.raw_key}", "Content-Type": "text/json"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        status, body = response.status, json.loads(response.read())
    finally:
        connection.close()
    assert status == 411 and body["code"] == "length_required"
    assert len(sandbox.requests()) == before


def test_PX_02_caller_credentials_and_hop_by_hop_headers_stay_behind(desk_api, sandbox):
    client, _ = desk_api
    answer = client.get(
        "tickets",
        headers={
            "Cookie": "sessionid=caller-session",
            "Proxy-Authorization": "Basic c2VjcmV0OnNlY3JldA==",
            "Connection": "X-Secret",
            "X-Secret": "hop-by-hop by Connection",
            "TE": "trailers",
            "X-Forwarded-For": "10.0.0.1",
            "Forwarded": "for=10.0.0.1",
            "Accept": "application/json",
        },
    )
    assert answer.status_code in (200, 204)  # Desk took its own token, not the service key
    seen = {name.lower() for name in sandbox.requests()[-1]["header_names"]}
    assert "authorization" in seen and "orgid" in seen
    assert not seen & {"cookie", "proxy-authorization", "x-secret", "te", "x-forwarded-for"}
    assert "forwarded" not in seen
    made = client.post("tickets", json={"subject": "cookies"})
    assert made.status_code == 200
    assert "set-cookie" not in made.headers  # Desk's own cookie is not relayed
    assert made.headers["x-rate-limit-remaining"] == "1999"


def test_PX_02_a_slow_desk_is_504_and_a_dripping_one_is_cut(desk_api, sandbox, settings):
    client, _ = desk_api
    settings.ZOHO_HTTP_TIMEOUT = 1.0
    sandbox.add_fault("latency", endpoint="desk_tickets", seconds=3, count=1)
    slow = client.get("tickets")
    assert slow.status_code == 504 and slow.json()["code"] == "desk_timeout"
    for n in range(3):
        assert client.post("tickets", json={"subject": f"Ticket {n}"}).status_code == 200
    sandbox.add_fault("drip", endpoint="desk_tickets", interval=0.5, chunk=8, count=1)
    # Cut off at the deadline: the connection is dropped mid-answer (a server that frames
    # answers, as gunicorn does, reports it; a close-delimited one leaves the JSON unfinished).
    started = time.monotonic()
    with pytest.raises((httpx2.HTTPError, ValueError)):
        client.get("tickets", params={"limit": 100}).json()
    assert time.monotonic() - started < 6  # the whole drip would take 30 s


def test_PX_02_a_huge_desk_answer_is_cut_off(desk_api, sandbox):
    client, _ = desk_api
    sandbox.add_fault("oversized", endpoint="desk_tickets", size=9 * MIB, count=1)
    huge = client.get("tickets")  # Desk declares its length: refused before any byte is relayed
    assert huge.status_code == 502 and huge.json()["code"] == "desk_answer_too_large"
    sandbox.add_fault("oversized", endpoint="desk_tickets", size=2 * MIB, count=1)
    fits = client.get("tickets")
    assert fits.status_code == 200 and len(fits.content) == 2 * MIB
