"""Audit exports: streamed, filtered like the page, audited, injection-safe, secret-free."""

import csv
import io
import json
from collections.abc import Iterator

import pytest
from django.http import StreamingHttpResponse

from accounts.audit import record_event
from accounts.models import AuditEvent
from portal.staff.audit_export import neutralised
from tests.leaks import assert_no_leak

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action


def download(client, url: str) -> tuple[StreamingHttpResponse, str]:
    response = client.get(url, REMOTE_ADDR="192.0.2.7")
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert isinstance(response.streaming_content, Iterator)  # streamed from a sync generator
    return response, b"".join(response.streaming_content).decode()


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def jsonl_rows(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_csv_export_streams_every_column_oldest_first(auditor_client, alice, make_grant):
    grant = make_grant()
    record_event(action=Action.CONNECTED, actor=alice, grant=grant, detail={"dc": "eu"})
    record_event(action=Action.REVOKE_REQUESTED, actor=alice, grant=grant, detail={"reason": "x"})
    response, text = download(auditor_client, "/staff/audit/export.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    assert "no-store" in response["Cache-Control"]
    rows = csv_rows(text)
    assert [row["action"] for row in rows][2:] == ["audit.exported"]  # audited, then read
    first = rows[0]
    assert first["action"] == "grant.connected" and first["owner"] == "alice@example.com"
    assert first["grant_id"] == str(grant.pk) and first["actor_id"] == str(alice.pk)
    assert json.loads(first["detail"]) == {"dc": "eu"}
    assert first["created_at"].endswith("Z") and len(first["hash"]) == 64
    assert rows[1]["reason"] == "x" and rows[1]["prev_hash"] == first["hash"]
    # The export's own event names the request that made it (to find its log lines).
    assert rows[-1]["request_id"] == response["X-Request-ID"] and first["request_id"] == ""


def test_jsonl_export_is_one_json_object_per_event(auditor_client, alice, make_grant):
    grant = make_grant()
    record_event(action=Action.CONNECTED, actor=alice, grant=grant, detail={"dc": "eu"})
    response, text = download(auditor_client, "/staff/audit/export.jsonl")
    assert response["Content-Type"] == "application/x-ndjson; charset=utf-8"
    assert response["Content-Disposition"].endswith('.jsonl"')
    row, exported = jsonl_rows(text)
    assert exported["action"] == "audit.exported"
    assert row["detail"] == {"dc": "eu"} and row["owner_id"] == alice.pk
    assert row["grant_id"] == str(grant.pk) and row["seq"] == 1


def test_exports_use_the_pages_filters(auditor_client, alice, bob, make_grant):
    record_event(action=Action.CONNECTED, actor=alice, grant=make_grant())
    record_event(action=Action.CONNECTED, actor=bob, grant=make_grant(user=bob))
    record_event(action=Action.REFRESH_FAILED, actor=bob, outcome="failure")
    _, text = download(
        auditor_client, "/staff/audit/export.csv?actor=bob@example.com&action=grant.connected"
    )
    assert [row["seq"] for row in csv_rows(text)] == ["2"]
    _, text = download(auditor_client, "/staff/audit/export.jsonl?outcome=failure")
    assert [row["seq"] for row in jsonl_rows(text)] == [3]


def test_each_export_is_audited_before_it_streams(auditor_client, staff):
    response = auditor_client.get("/staff/audit/export.jsonl?action=grant.connected&q=left")
    event = AuditEvent.objects.get(action=Action.AUDIT_EXPORTED)  # before any row is read
    assert event.actor_id == staff.pk and event.ip_address == "127.0.0.1"
    assert event.detail == {
        "format": "jsonl",
        "filters": {"action": "grant.connected", "q": "left"},
    }
    assert b"".join(response.streaming_content) == b""  # it filtered itself out


def test_exports_cross_many_chunks(auditor_client):
    AuditEvent.objects.bulk_create(AuditEvent(action=Action.CHECKED) for _ in range(4500))
    _, text = download(auditor_client, "/staff/audit/export.csv")
    rows = csv_rows(text)
    assert len(rows) == 4501 and rows[-1]["action"] == "audit.exported"
    assert [int(row["seq"]) for row in rows] == list(range(1, 4502))


@pytest.mark.parametrize(
    "dangerous",
    ['=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd", "=1\n=2"],
)
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(auditor_client, dangerous):
    record_event(action=Action.REVOKE_REQUESTED, actor=dangerous, detail={"reason": dangerous})
    _, text = download(auditor_client, "/staff/audit/export.csv")
    row = csv_rows(text)[0]
    assert row["reason"] == "'" + dangerous
    assert row["actor"] == "'" + dangerous
    assert not any(value.startswith(("=", "+", "-", "@", "\t", "\r")) for value in row.values())
    _, text = download(auditor_client, "/staff/audit/export.jsonl")
    assert jsonl_rows(text)[0]["reason"] == dangerous  # JSON lines stay raw data


def test_neutralised_leaves_ordinary_text_alone():
    assert neutralised("customer left") == "customer left"
    assert neutralised("") == ""
    assert neutralised("a=b") == "a=b"


def test_exports_hold_no_secret(auditor_client, alice, make_grant):
    grant = make_grant()
    for action in (Action.CONNECTED, Action.REFRESHED, Action.TESTED, Action.REVOKED):
        record_event(action=action, actor=alice, grant=grant, detail={"dc": grant.data_centre})
    _, csv_text = download(auditor_client, "/staff/audit/export.csv")
    _, jsonl_text = download(auditor_client, "/staff/audit/export.jsonl")
    assert len(csv_rows(csv_text)) == 5 and len(jsonl_rows(jsonl_text)) == 6
    ciphertext = bytes(grant.refresh_token_encrypted).decode()
    assert ciphertext not in csv_text and ciphertext not in jsonl_text
    assert_no_leak([make_grant.refresh_token, make_grant.access_token], csv_text, jsonl_text)
