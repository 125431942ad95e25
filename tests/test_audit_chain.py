"""Tamper evidence: the database chains every audit event, verify_audit finds tampering.

Tampering needs what only the table's owner or a superuser has (here, the test role):
triggers switched off. Each test does it inside its own transaction, which is rolled back.
"""

import re
from datetime import timedelta
from importlib import import_module
from io import StringIO

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.utils import timezone

from accounts import audit_chain, outbox
from accounts.audit import record_event
from accounts.audit_chain import GENESIS, verify_chain
from accounts.models import AuditEvent
from tests.jobs import queued
from tests.racing import race

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action
CHAIN_LOCK = import_module("accounts.migrations.0008_audit_chain").CHAIN_LOCK


@pytest.fixture
def five_events(alice, make_grant):
    grant = make_grant()
    events = [
        record_event(action=Action.CONNECTED, actor=alice, grant=grant, detail={"dc": "eu"}),
        record_event(action=Action.REFRESHED, grant=grant, detail={"rotated": False}),
        record_event(action=Action.REVOKE_REQUESTED, actor=alice, detail={"reason": "done"}),
        record_event(action=Action.REVOKED, grant=grant, outcome="failure"),
        record_event(action=Action.ALERT_EMAILS_CHANGED, actor=alice, detail={"enabled": True}),
    ]
    return events


def tamper(sql: str, params: list | None = None) -> None:
    """Change the table the way a superuser could: with the table's triggers off."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params or [])
        cursor.execute("SET LOCAL session_replication_role = origin")


def verify(*args: str, stderr: StringIO | None = None) -> str:
    out = StringIO()
    call_command("verify_audit", *args, stdout=out, stderr=stderr or StringIO())
    return out.getvalue()


def broken(*args: str, stderr: StringIO | None = None) -> str:
    with pytest.raises(CommandError) as failure:
        verify(*args, stderr=stderr)
    return str(failure.value)


def test_the_database_numbers_and_links_every_event(five_events):
    rows = list(AuditEvent.objects.order_by("seq").values_list("seq", "prev_hash", "hash"))
    assert [seq for seq, _, _ in rows] == [1, 2, 3, 4, 5]
    assert rows[0][1] == GENESIS
    for (_, _, before), (_, link, _) in zip(rows, rows[1:], strict=False):
        assert link == before
    assert len({digest for _, _, digest in rows}) == 5
    assert five_events[-1].seq == 5 and five_events[-1].hash == rows[-1][2]


def test_bulk_and_raw_inserts_are_chained_too(five_events):
    AuditEvent.objects.bulk_create(AuditEvent(action=Action.CHECKED) for _ in range(3))
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_auditevent (created_at, actor_repr, action, grant_repr, detail,"
            " user_agent, outcome, seq, hash) SELECT now(), '', 'grant.checked', '', '{}', '',"
            " 'success', 999, 'forged' FROM generate_series(1, 2)"
        )
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(
        range(1, 11)
    )
    assert not AuditEvent.objects.filter(hash="forged").exists()
    assert "10 events checked, last seq 10" in verify()


def test_appending_never_scans_the_whole_log_even_when_statistics_say_it_is_tiny(five_events):
    """The trigger looks up the newest event by index, not by reading the table: with the
    statistics of a five-row table, a cached plan would otherwise be a sequential scan, run
    again for every later insert (quadratic in a bulk insert). PostgreSQL counts this
    transaction's scans of the table; none may be sequential."""

    def scans() -> tuple[int, int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables"
                " WHERE relname = 'accounts_auditevent'"
            )
            seq_scans, idx_scans = cursor.fetchone()
            return int(seq_scans), int(idx_scans)

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_auditevent")
    seq_before, index_before = scans()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_auditevent (created_at, actor_repr, action, grant_repr, detail,"
            " user_agent, outcome) SELECT now(), '', 'grant.checked', '', '{}', '', 'success'"
            " FROM generate_series(1, 40)"
        )
    AuditEvent.objects.bulk_create(AuditEvent(action=Action.CHECKED) for _ in range(10))
    seq_after, index_after = scans()
    assert seq_after - seq_before == 0
    assert index_after - index_before >= 50  # one lookup of the newest event per insert
    assert "55 events checked" in verify()


def test_time_never_goes_back_along_the_chain(five_events):
    old = AuditEvent.objects.create(
        action=Action.CHECKED, created_at=timezone.now() - timedelta(days=3)
    )
    old.refresh_from_db()
    assert old.created_at == AuditEvent.objects.get(seq=5).created_at
    assert verify().startswith("audit chain intact: 6 events")


def test_verify_audit_summarises_an_intact_chain(five_events):
    last = AuditEvent.objects.get(seq=5)
    assert verify() == f"audit chain intact: 5 events checked, last seq 5, last hash {last.hash}\n"
    assert verify("--anchor", f"5:{last.hash}").startswith("audit chain intact")


def test_verify_audit_shows_its_progress_on_stderr_a_batch_at_a_time(five_events, monkeypatch):
    """Not on a terminal: a plain line per batch here (each is another 20 % of the log; the last
    one's is the summary); stdout keeps only the result, for scripts."""
    AuditEvent.objects.bulk_create(AuditEvent(action=Action.CHECKED) for _ in range(5))
    monkeypatch.setattr(audit_chain, "BATCH_SIZE", 2)
    progress = StringIO()
    assert verify(stderr=progress).startswith("audit chain intact: 10 events checked")
    lines = progress.getvalue().splitlines()
    assert [line.split(", ")[0] for line in lines[:-1]] == [
        f"verify_audit: {done}/10 events ({done * 10}%)" for done in (2, 4, 6, 8)
    ]
    assert all(re.search(r", [\d.,]+/s, about [\d.]+ s left$", line) for line in lines[:-1])
    assert re.fullmatch(r"verify_audit: 10 events in [\d.]+ s \([\d.,]+/s\)", lines[-1])


@pytest.mark.parametrize("batch_size", [1, 2, 3, 4])
def test_verify_audit_finds_problems_across_batch_boundaries(five_events, monkeypatch, batch_size):
    """Each batch's first event is compared with the previous batch's last: a problem on a
    boundary is found as in one pass, and the walk stops at the batch that holds it."""
    monkeypatch.setattr(audit_chain, "BATCH_SIZE", batch_size)
    with transaction.atomic():
        tamper("DELETE FROM accounts_auditevent WHERE seq = 3")
        assert "seq 3 missing before seq 4" in broken()
        transaction.set_rollback(True)
    with transaction.atomic():
        tamper("UPDATE accounts_auditevent SET seq = -seq WHERE seq IN (2, 3)")
        tamper(
            "UPDATE accounts_auditevent SET seq = CASE seq WHEN -2 THEN 3 ELSE 2 END WHERE seq < 0"
        )
        assert "(reordered)" in broken()
        transaction.set_rollback(True)
    with transaction.atomic():
        tamper("DELETE FROM accounts_auditevent WHERE seq = 3")
        tamper("UPDATE accounts_auditevent SET seq = seq - 1 WHERE seq > 3")
        problem = verify_chain().problem
        assert problem is not None and (problem.kind, problem.seq) == ("broken_link", 3)
        transaction.set_rollback(True)
    tamper("UPDATE accounts_auditevent SET outcome = 'failure' WHERE seq = 2")
    stopped = StringIO()
    assert "event seq 2 " in broken(stderr=stopped)
    walked = -(-2 // batch_size) * batch_size  # up to the end of the batch holding seq 2
    assert f"verify_audit: {walked} of 5 events in" in stopped.getvalue()


def test_verify_audit_passes_on_an_empty_log():
    assert verify().startswith("audit chain intact: 0 events checked")


def test_verify_audit_finds_an_edited_event(five_events):
    tamper('UPDATE accounts_auditevent SET detail = \'{"reason": "nothing"}\' WHERE seq = 3')
    message = broken()
    assert "(edited)" in message and "event seq 3 " in message
    report = verify_chain()
    assert report.problem is not None and (report.problem.kind, report.problem.seq) == ("edited", 3)


def test_verify_audit_finds_an_edit_in_any_field(five_events):
    tamper(
        "UPDATE accounts_auditevent SET created_at = created_at + interval '1 second' WHERE seq = 2"
    )
    assert "(edited)" in broken()


def test_verify_audit_finds_an_edit_whose_hash_was_recomputed(five_events):
    tamper("UPDATE accounts_auditevent SET outcome = 'success' WHERE seq = 4")
    tamper(
        "UPDATE accounts_auditevent e SET hash = accounts_auditevent_digest(e.prev_hash, e) "
        "WHERE seq = 4"
    )
    report = verify_chain()
    assert report.problem is not None
    assert (report.problem.kind, report.problem.seq) == ("broken_link", 5)


def test_verify_audit_finds_a_deletion(five_events):
    tamper("DELETE FROM accounts_auditevent WHERE seq = 3")
    message = broken()
    assert "(gap)" in message and "seq 3 missing before seq 4" in message


def test_verify_audit_finds_the_first_events_deleted(five_events):
    tamper("DELETE FROM accounts_auditevent WHERE seq <= 2")
    assert "seq 1..2 missing before seq 3" in broken()


def test_verify_audit_finds_a_deletion_with_the_numbers_closed_up(five_events):
    tamper("DELETE FROM accounts_auditevent WHERE seq = 3")
    tamper("UPDATE accounts_auditevent SET seq = seq - 1 WHERE seq > 3")
    report = verify_chain()
    assert report.problem is not None
    assert (report.problem.kind, report.problem.seq) == ("broken_link", 3)


def test_verify_audit_finds_a_reordering(five_events):
    tamper("UPDATE accounts_auditevent SET seq = -seq WHERE seq IN (2, 3)")
    tamper("UPDATE accounts_auditevent SET seq = CASE seq WHEN -2 THEN 3 ELSE 2 END WHERE seq < 0")
    message = broken()
    assert "(reordered)" in message
    assert "event seq 2 " in message and "now at seq 3" in message


def test_an_anchor_catches_a_cut_off_tail(five_events):
    last = AuditEvent.objects.get(seq=5)
    tamper("DELETE FROM accounts_auditevent WHERE seq = 5")
    assert verify().startswith("audit chain intact: 4 events")  # the rest is consistent
    assert "(truncated)" in broken("--anchor", f"5:{last.hash}")
    assert "--anchor takes SEQ:HASH" in broken("--anchor", "5:nothex")


def test_audit_rows_refuse_every_kind_of_change_as_the_apps_role(five_events):
    event = five_events[0]
    changes = [
        lambda: AuditEvent.objects.filter(pk=event.pk).update(seq=99),
        lambda: AuditEvent.objects.filter(pk=event.pk).update(hash="0" * 64),
        lambda: AuditEvent.objects.bulk_update([event], ["outcome"]),
        lambda: AuditEvent.objects.all().delete(),
        lambda: event.save(),
    ]
    for change in changes:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            change()
    for statement in (
        "UPDATE accounts_auditevent SET hash = prev_hash",
        "DELETE FROM accounts_auditevent WHERE seq = 5",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert verify().startswith("audit chain intact: 5 events")


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_the_chain_gapless_and_intact():
    def write_15() -> None:
        for _ in range(15):
            with transaction.atomic():
                record_event(action=Action.CHECKED)

    assert race(4 * [write_15]).errors == []
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(
        range(1, 61)
    )
    assert verify().startswith("audit chain intact: 60 events")


class LockCheckingMailBackend(BaseEmailBackend):
    """Records, for each message, whether this connection held the audit chain's lock."""

    held: list[bool] = []

    def send_messages(self, messages):
        self.held.extend([chain_lock_held()] * len(messages))
        return len(messages)


def chain_lock_held() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1"
            " AND objid = %s AND pid = pg_backend_pid()",
            [CHAIN_LOCK],
        )
        (held,) = cursor.fetchone()
        return int(held) > 0


def test_an_owner_alert_sends_no_mail_while_the_audit_lock_is_held(settings, make_grant):
    """No transaction waits on a mail server while holding the lock every writer needs: the
    alert only queues a job (tests/security/test_mail_outbox.py runs one against a hung server).
    """
    from portal.grants import owner_alerts

    settings.MAILERS = {"default": {"BACKEND": "tests.test_audit_chain.LockCheckingMailBackend"}}
    LockCheckingMailBackend.held = []
    grant = make_grant()
    grant.status = "needs_reconnect"
    grant.save()
    assert not chain_lock_held()
    assert owner_alerts.alert_owner(grant_id=grant.pk) is True
    assert AuditEvent.objects.filter(action=Action.OWNER_ALERTED).count() == 1
    assert chain_lock_held()  # recorded: held until this (test) transaction ends
    assert LockCheckingMailBackend.held == []  # nothing was sent meanwhile
    assert [job.task_name for job in queued()] == [outbox.SEND_MAIL]


def test_events_without_a_request_id_hash_as_before_request_ids_existed(five_events):
    """Migration 0019 chains request_id only when set, so every older event keeps its hash."""
    fields = import_module("accounts.migrations.0019_audit_event_request_id").FIELDS
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM accounts_auditevent e WHERE e.hash = encode(sha256(convert_to("
            f"e.prev_hash || jsonb_build_array({fields})::text, 'UTF8')), 'hex')"
        )
        assert cursor.fetchone()[0] == 5
    assert "intact" in verify().lower()


def test_a_request_id_is_chained_and_an_edit_of_it_is_found(five_events):
    from accounts import request_id

    with request_id.bound("req-1"):
        event = record_event(action=Action.CHECKED)
    event.refresh_from_db()
    assert event.request_id == "req-1"
    assert verify_chain().is_intact
    tamper("UPDATE accounts_auditevent SET request_id = 'req-2' WHERE seq = %s", [event.seq])
    report = verify_chain()
    assert report.problem is not None and (report.problem.kind, report.problem.seq) == (
        "edited",
        event.seq,
    )
