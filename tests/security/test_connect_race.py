"""Racing connects for the same Zoho user: one grant, clean answers, no live token left over.

Two tabs or a double click: each callback has its own state and its own code, each exchange
mints a refresh token at Zoho. Only one grant may result; every token not kept is revoked at
Zoho, at once or, when Zoho cannot be reached, later by the worker (OA-11, OA-21).
"""

import threading
import time
from functools import partial

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client

from accounts.models import AuditEvent
from portal import crypto, tasks
from portal.models import OrphanedToken, ZohoGrant
from tests.portal_browser import PortalBrowser
from tests.racing import race

pytestmark = pytest.mark.django_db(transaction=True)

EU = "20000001"
RACERS = 3


def _blocked_inserts() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND query LIKE 'INSERT INTO \"portal_zohogrant\"%%'"
        )
        return int(cursor.fetchone()[0])


def _wait_for(condition, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "racers never reached the insert"
        time.sleep(0.05)


def racing_callbacks(portal, sandbox, make_grant):
    """Three callbacks for the same Zoho user, each held at the grant's insert until all are.

    An uncommitted grant row for the same Zoho user makes every insert wait on the unique
    index; rolling it back releases them together, so the race happens on every run.
    """
    urls = [sandbox.consent(portal.start(), zuid=EU) for _ in range(RACERS)]
    browsers = []
    for _ in urls:
        client = Client()
        client.cookies = portal.client.cookies
        browsers.append(PortalBrowser(client, sandbox))
    hold, release = threading.Event(), threading.Event()

    def blocker() -> None:
        try:
            with transaction.atomic():
                make_grant(zoho_user_id=EU)
                hold.set()
                release.wait(timeout=120)
                transaction.set_rollback(True)
        finally:
            connection.close()

    holder = threading.Thread(target=blocker)
    holder.start()
    hold.wait(timeout=30)
    result: dict = {}
    runner = threading.Thread(
        target=lambda: result.update(
            finish=race([partial(b.callback, u) for b, u in zip(browsers, urls, strict=True)])
        )
    )
    runner.start()
    try:
        _wait_for(lambda: _blocked_inserts() >= RACERS)
    finally:
        release.set()
        holder.join(timeout=60)
        runner.join(timeout=120)
    return result["finish"]


def live_tokens(sandbox):
    return [g for g in sandbox.grants(zuid=EU) if g["active"]]


def test_OA_11_racing_callbacks_for_one_zoho_user_make_one_grant_and_revoke_the_rest(
    portal, sandbox, alice, make_grant
):
    finish = racing_callbacks(portal, sandbox, make_grant)
    assert finish.errors == []
    assert [r.status_code for r in finish.results] == [303] * RACERS
    grant = ZohoGrant.objects.exclude(status="revoked").get(user=alice)
    assert grant.status == "active"
    locations = sorted(r["Location"] for r in finish.results)
    assert locations == sorted([f"/connections/{grant.pk}/"] + ["/connections/"] * (RACERS - 1))
    # Zoho minted three refresh tokens; only the stored one still lives
    assert len(sandbox.grants(zuid=EU)) == RACERS
    assert len(live_tokens(sandbox)) == 1
    assert not OrphanedToken.objects.exists()
    actions = list(AuditEvent.objects.filter(grant_id=grant.pk).values_list("action", flat=True))
    assert actions.count("grant.connected") == 1
    assert actions.count("grant.connect_merged") == RACERS - 1
    assert actions.count("grant.superseded_token_revoked") == RACERS - 1


def test_OA_11_tokens_of_lost_races_are_revoked_by_the_worker_when_zoho_was_down(
    portal, sandbox, alice, make_grant
):
    sandbox.add_fault("status", endpoint="revoke", status=503)
    finish = racing_callbacks(portal, sandbox, make_grant)
    assert finish.errors == []
    assert [r.status_code for r in finish.results] == [303] * RACERS
    assert ZohoGrant.objects.exclude(status="revoked").filter(user=alice).count() == 1
    assert OrphanedToken.objects.count() == RACERS - 1
    assert len(live_tokens(sandbox)) == RACERS
    tasks.revoke_orphaned_tokens(timestamp=0)  # still down: kept for the next run
    assert OrphanedToken.objects.count() == RACERS - 1

    sandbox.clear_faults()
    tasks.revoke_orphaned_tokens(timestamp=0)
    assert not OrphanedToken.objects.exists()
    assert len(live_tokens(sandbox)) == 1


def test_reconnect_while_zoho_is_down_leaves_the_replaced_token_to_the_worker(
    portal, sandbox, alice
):
    portal.connect(EU)
    sandbox.add_fault("status", endpoint="revoke", status=503)
    assert portal.connect(EU).status_code == 303
    assert len(live_tokens(sandbox)) == 2
    held = OrphanedToken.objects.get()
    assert held.reason == "superseded" and held.attempts == 1
    sandbox.clear_faults()
    tasks.revoke_orphaned_tokens(timestamp=0)
    assert not OrphanedToken.objects.exists()
    assert len(live_tokens(sandbox)) == 1


def test_a_held_token_outlives_key_rotation_and_is_still_revoked_at_zoho(
    portal, sandbox, alice, settings, capsys
):
    portal.connect(EU)
    sandbox.add_fault("status", endpoint="revoke", status=503)
    assert portal.connect(EU).status_code == 303  # the replaced token is held, under key v1
    held = OrphanedToken.objects.get()
    before = bytes(held.token_encrypted)
    old_keys = list(settings.TOKEN_ENCRYPTION_KEYS)
    new_key = crypto.generate_key()
    settings.TOKEN_ENCRYPTION_KEYS = [new_key, *old_keys]

    call_command("rotate_token_keys")

    out = capsys.readouterr().out
    assert "grants: rotated: 1" in out and "held for revocation: rotated: 1" in out
    held.refresh_from_db()
    assert bytes(held.token_encrypted) != before
    settings.TOKEN_ENCRYPTION_KEYS = [new_key]  # v1 retired
    sandbox.clear_faults()
    tasks.revoke_orphaned_tokens(timestamp=0)

    assert not OrphanedToken.objects.exists()
    assert len(live_tokens(sandbox)) == 1  # the held token is dead at Zoho
    last = AuditEvent.objects.filter(action__startswith="grant.superseded").order_by("seq").last()
    assert last is not None and last.action == "grant.superseded_token_revoked"
