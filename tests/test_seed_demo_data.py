"""manage.py seed_demo_data: bulk demo data with variety, reproducible, careful where it runs."""

from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import transaction

from accounts.models import AuditEvent, User
from portal.crypto import decrypt_token
from portal.models import ZohoGrant

pytestmark = pytest.mark.django_db

FROZEN = "2026-11-01 12:00:00Z"


def seed(*args: str, stderr: StringIO | None = None) -> str:
    out = StringIO()
    call_command("seed_demo_data", *args, stdout=out, stderr=stderr or StringIO())
    return out.getvalue()


@pytest.fixture
def debug(settings):
    settings.DEBUG = True


def snapshot() -> dict:
    return {
        "emails": sorted(User.objects.values_list("email", flat=True)),
        "grants": sorted(
            ZohoGrant.objects.values_list("id", "status", "data_centre", "zoho_email")
        ),
        "events": list(
            AuditEvent.objects.order_by("id").values_list("created_at", "action", "grant_id")
        ),
    }


def test_a_small_run_has_every_status_data_centre_and_many_actions(debug, settings):
    output = seed("--grants", "300", "--events", "2000", "--seed", "3")
    assert ZohoGrant.objects.count() == 300
    assert AuditEvent.objects.count() == 2000
    assert set(ZohoGrant.objects.values_list("status", flat=True)) == set(ZohoGrant.Status.values)
    assert set(ZohoGrant.objects.values_list("data_centre", flat=True)) == set(
        settings.ZOHO_DATA_CENTRES
    )
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert len(actions) >= 15
    assert {"grant.connected", "grant.revoked", "grant.refresh_failed"} <= actions
    assert User.objects.filter(is_staff=True).exists()
    assert 80 <= User.objects.count() <= 120
    assert any(not email.isascii() for email in User.objects.values_list("last_name", flat=True))
    assert ZohoGrant.objects.exclude(warning="").exists()
    assert "grants: 300" in output and "events: 2,000" in output


def test_progress_goes_to_stderr_stage_by_stage(debug):
    """Not on a terminal: COPY reports every 5,000 rows, so 20,000 events give a line at each
    quarter (at the last, the summary); each stage ends with its summary line, and stdout keeps
    only the command's own summary."""
    progress = StringIO()
    output = seed("--grants", "30", "--events", "20000", stderr=progress)
    assert "events: 20,000" in output and "seed_demo_data" not in output
    lines = progress.getvalue().splitlines()
    assert [line.split(", ")[0] for line in lines if "%)" in line] == [
        "seed_demo_data: 5,000/20,000 events (25%)",
        "seed_demo_data: 10,000/20,000 events (50%)",
        "seed_demo_data: 15,000/20,000 events (75%)",
    ]
    summaries = [line for line in lines if " in " in line]
    assert [line.split(" in ")[0] for line in summaries] == [
        "seed_demo_data: 10 users",
        "seed_demo_data: 30 grants",
        "seed_demo_data: 20,000 events",
    ]
    assert all(line.endswith("/s)") for line in summaries)


def test_grants_are_consistent_with_their_status(debug):
    seed("--grants", "300", "--events", "500")
    revoked = ZohoGrant.objects.filter(status=ZohoGrant.Status.REVOKED)
    assert not revoked.filter(refresh_token_encrypted__isnull=False).exists()
    assert not revoked.filter(revoked_at__isnull=True).exists()
    live = ZohoGrant.objects.exclude(status=ZohoGrant.Status.REVOKED).first()
    assert live is not None and live.refresh_token_encrypted is not None
    token = decrypt_token(live.refresh_token_encrypted, context=str(live.pk))
    assert token.startswith("1000.")
    org = live.organizations[0]
    assert set(org) == {"id", "name"}
    assert not User.objects.filter(zoho_grants__isnull=True, is_staff=False).count() > 40


def test_events_are_inserted_oldest_first_over_ninety_days(debug):
    seed("--grants", "100", "--events", "1500")
    times = list(AuditEvent.objects.order_by("id").values_list("created_at", flat=True))
    assert times == sorted(times)
    assert (times[-1] - times[0]).days >= 60
    revocation = AuditEvent.objects.filter(action="grant.revoked").first()
    assert revocation is not None
    assert revocation.detail["reason"]
    assert revocation.grant_id is not None and revocation.actor_id is not None


def test_the_same_seed_gives_the_same_data(debug):
    with time_machine.travel(FROZEN, tick=False):
        point = transaction.savepoint_create()
        seed("--grants", "120", "--events", "800", "--seed", "42")
        first = snapshot()
        transaction.savepoint_rollback(point)
        assert not ZohoGrant.objects.exists()
        seed("--grants", "120", "--events", "800", "--seed", "42")
        assert snapshot() == first
        transaction.savepoint_rollback(point)
        seed("--grants", "120", "--events", "800", "--seed", "43")
        assert snapshot()["grants"] != first["grants"]


def test_it_refuses_with_debug_off_unless_forced(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG is off"):
        seed("--grants", "10", "--events", "10")
    assert not ZohoGrant.objects.exists()
    seed("--grants", "10", "--events", "10", "--force")
    assert ZohoGrant.objects.count() == 10


def test_it_refuses_a_database_with_data_unless_appending(debug):
    seed("--grants", "30", "--events", "100")
    with pytest.raises(CommandError, match="--append"):
        seed("--grants", "30", "--events", "100")
    seed("--grants", "30", "--events", "100", "--append")
    assert ZohoGrant.objects.count() == 60
    assert AuditEvent.objects.count() == 200


def test_events_carry_their_owner(debug):
    """A grant's events name the grant's owner (the staff audit filter by owner relies on it);
    events about no one's grant (service keys) name no owner."""
    seed("--grants", "200", "--events", "3000", "--seed", "5")
    grants = dict(ZohoGrant.objects.values_list("id", "user_id"))
    on_grants = AuditEvent.objects.filter(grant_id__isnull=False)
    assert on_grants.exists()
    for grant, owner in on_grants.values_list("grant_id", "owner_id"):
        assert grant is not None and owner == grants[grant]
    emails = dict(User.objects.values_list("id", "email"))
    for owner, text in on_grants.values_list("owner_id", "owner_repr"):
        assert owner is not None and emails[owner] == text
    service_keys = AuditEvent.objects.filter(action__startswith="service_key.")
    assert service_keys.exists()
    assert not service_keys.filter(owner_id__isnull=False).exists()
