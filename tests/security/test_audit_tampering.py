"""The audit log cannot be emptied: TRUNCATE is refused, and an anchor catches a short chain."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.utils import DatabaseError

from accounts.audit import record_event
from accounts.models import AuditEvent

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action


@pytest.fixture
def three_events(alice):
    return [
        record_event(action=Action.ALERT_EMAILS_CHANGED, actor=alice, detail={"enabled": n % 2})
        for n in range(3)
    ]


def verify(*args: str) -> str:
    out = StringIO()
    call_command("verify_audit", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    "statement",
    [
        "TRUNCATE accounts_auditevent",
        "TRUNCATE ONLY accounts_auditevent RESTART IDENTITY",
        "TRUNCATE accounts_auditevent, accounts_ratecounter CASCADE",
    ],
)
def test_AC_06_the_audit_table_refuses_truncate(three_events, statement):
    with pytest.raises(DatabaseError, match="TRUNCATE refused"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert AuditEvent.objects.count() == 3
    assert verify().startswith("audit chain intact: 3 events checked")


def test_AC_06_an_anchor_beyond_the_end_of_the_chain_fails(three_events):
    last = AuditEvent.objects.get(seq=3)
    with transaction.atomic(), connection.cursor() as cursor:
        # What only a superuser can do: switch the triggers off and empty the table.
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("TRUNCATE accounts_auditevent")
        cursor.execute("SET LOCAL session_replication_role = origin")
        assert verify().startswith("audit chain intact: 0 events")  # nothing left to check
        with pytest.raises(CommandError) as failure:
            verify("--anchor", f"3:{last.hash}")
    message = str(failure.value)
    assert "(truncated)" in message
    assert "the log holds no events, before anchor seq 3" in message


def test_AC_06_an_anchor_past_a_shorter_chain_names_where_it_ends(three_events):
    first = AuditEvent.objects.get(seq=1)
    with pytest.raises(CommandError) as failure:
        verify("--anchor", f"7:{first.hash}")
    assert "the log ends at seq 3, before anchor seq 7" in str(failure.value)
