"""Staff bulk revocation as jobs (AC-05): the request records and defers, the jobs revoke."""

import re
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from django.db import connection
from procrastinate import exceptions
from procrastinate.contrib.django.models import ProcrastinateJob

from accounts.models import AuditEvent
from portal import tasks
from portal.models import StaffRevocation, StaffRevocationItem, ZohoGrant
from portal.staff import bulk_revocation
from tests.cast import EU, GRANT_REFRESH_TOKEN
from tests.jobs import queued, run_jobs
from tests.mail_parts import delivered, html_part
from tests.racing import race
from tests.staff_permissions import assert_permission_matrix, client_for, give

pytestmark = pytest.mark.django_db

REVOKE_JOB = "portal.revoke_for_staff"


@pytest.fixture
def revoker(make_user):
    user = make_user("revoker@example.com", is_staff=True)
    give(user, "view_all_grants", "revoke_any_grant")
    return user


def confirm(user, grants, reason="offboarding"):
    data = {"grant": [str(grant.pk) for grant in grants], "reason": reason, "confirm": "1"}
    return client_for(user).post("/staff/grants/revoke/", data, HTTP_USER_AGENT="StaffBrowser/1")


def batch_url(response) -> str:
    assert response.status_code == 303, response.content[:500]
    assert re.fullmatch(r"/staff/revocations/[0-9a-f-]{36}/", response["Location"])
    return str(response["Location"])


def audit_actions(grant) -> list[str]:
    events = AuditEvent.objects.filter(grant_id=grant.pk).order_by("seq")
    return list(events.values_list("action", flat=True))


def refreshes(body: str) -> bool:
    return '<meta http-equiv="refresh" content="2">' in body


# -- the request records and defers; the jobs do the work ------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_request_only_records_and_defers_and_the_jobs_revoke(
    portal, sandbox, connected, make_grant, revoker, bob
):
    bobs = make_grant(user=bob, zoho_user_id="4")  # unknown to Zoho: counts as revoked
    seen = len(sandbox.requests())
    url = batch_url(confirm(revoker, [connected, bobs]))
    # The request called neither Zoho nor a mail server: it only recorded and deferred.
    assert len(sandbox.requests()) == seen and delivered() == []
    assert set(ZohoGrant.objects.values_list("status", flat=True)) == {"active"}
    jobs = queued(REVOKE_JOB)
    assert len(jobs) == 2 and not AuditEvent.objects.filter(action__startswith="grant.revoke")
    # Ids only, and the confirming request's id (a log correlation id, no secret).
    assert all(set(job.args) == {"revocation_id", "grant_id", "request_id"} for job in jobs)
    assert GRANT_REFRESH_TOKEN not in str([job.args for job in jobs])
    before = client_for(revoker).get(url).content.decode()
    assert "0 of 2 done" in before and refreshes(before) and "Waiting for the worker" in before

    run_jobs()

    after = client_for(revoker).get(url).content.decode()
    assert "2 of 2 done" in after and not refreshes(after) and "Revocation results" in after
    assert after.count(">Revoked<") == 2 and "<strong>2</strong> Revoked" in after
    assert "Owners of revoked grants are emailed" in after
    statuses = dict(ZohoGrant.objects.values_list("pk", "status"))
    assert statuses == {connected.pk: "revoked", bobs.pk: "revoked"}
    assert len(sandbox.requests(endpoint="revoke")) == 2
    assert not [grant for grant in sandbox.grants(zuid=EU) if grant["active"]]
    assert sorted(m.to[0] for m in delivered()) == ["alice@example.com", "bob@example.com"]
    for grant in (connected, bobs):
        assert audit_actions(grant)[-2:] == ["grant.revoke_requested", "grant.revoked"]
        requested = AuditEvent.objects.get(grant_id=grant.pk, action="grant.revoke_requested")
        assert requested.actor_id == revoker.pk and requested.user_agent == "StaffBrowser/1"
        assert requested.ip_address == "127.0.0.1"
    batch = StaffRevocation.objects.get()
    assert batch.finished_at is not None
    assert set(StaffRevocationItem.objects.values_list("outcome", flat=True)) == {"revoked"}


@pytest.mark.django_db(transaction=True)
def test_AC_05_staff_revoke_audits_and_tells_the_owner_as_before(
    portal, sandbox, connected, revoker, caplog
):
    reason = 'Fraud report #42\r\nFAKE LOG LINE <img src=x onerror=alert(1)> "quoted"'
    url = batch_url(confirm(revoker, [connected], reason))
    run_jobs()
    page = client_for(revoker).get(url).content.decode()
    assert "1 of 1 done" in page and "&lt;img src=x" in page and "<img src=x" not in page
    connected.refresh_from_db()
    assert connected.status == "revoked" and connected.refresh_token_encrypted is None
    stored = 'Fraud report #42 FAKE LOG LINE <img src=x onerror=alert(1)> "quoted"'
    final = AuditEvent.objects.get(grant_id=connected.pk, action="grant.revoked")
    assert final.actor_repr == "revoker@example.com" and final.actor_id == revoker.pk
    assert final.detail == {
        "zoho": "confirmed",
        "reason": stored,
        "by_staff": True,
        "owner_id": connected.user_id,
        "owner": "alice@example.com",
    }
    assert final.created_at.utcoffset() == timedelta(0)
    requested = AuditEvent.objects.get(grant_id=connected.pk, action="grant.revoke_requested")
    assert set(requested.detail) == {"reason", "by_staff", "owner_id", "owner"}
    assert requested.detail["reason"] == stored and requested.actor_id == revoker.pk
    # The owner: one email (text and HTML) naming the connection, an administrator, the reason.
    assert len(delivered()) == 1
    message = delivered()[0]
    assert message.to == ["alice@example.com"] and "administrator" in message.subject
    assert "Example Support" in message.body and stored in message.body
    html = html_part(message)
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img" not in html
    dashboard = portal.client.get("/connections/").content.decode()
    assert "by an administrator" in dashboard and "revoker@example.com" not in dashboard
    assert all("\n" not in record.getMessage() for record in caplog.records)
    assert all(GRANT_REFRESH_TOKEN not in record.getMessage() for record in caplog.records)


@pytest.mark.django_db(transaction=True)
def test_zoho_down_for_one_grant_leaves_it_revoking_and_the_batch_still_finishes(
    portal, sandbox, connected, make_grant, revoker, bob
):
    already = make_grant(zoho_user_id="3", status="revoked")
    bobs = make_grant(user=bob, zoho_user_id="4")
    sandbox.add_fault("status", endpoint="revoke", status=503, count=1)
    url = batch_url(confirm(revoker, [connected, already, bobs]))
    assert len(queued(REVOKE_JOB)) == 2  # the revoked one is recorded, not queued
    assert "1 of 3 done" in client_for(revoker).get(url).content.decode()
    run_jobs()
    body = client_for(revoker).get(url).content.decode()
    assert "3 of 3 done" in body and not refreshes(body)
    assert "Revoking: Zoho has not confirmed yet" in body
    assert "Already revoked; nothing done" in body and body.count(">Revoked<") == 1
    statuses = dict(ZohoGrant.objects.values_list("pk", "status"))
    assert statuses[connected.pk] == "revoking" and statuses[bobs.pk] == "revoked"
    assert sorted(m.to[0] for m in delivered()) == ["alice@example.com", "bob@example.com"]
    assert "grant.revoke_failed" in audit_actions(connected)


# -- each job is safe to run again -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_jobs_run_again_change_nothing_more(portal, sandbox, connected, revoker):
    batch_url(confirm(revoker, [connected]))
    run_jobs()
    batch = StaffRevocation.objects.get()
    events, requests = AuditEvent.objects.count(), len(sandbox.requests())
    tasks.revoke_for_staff.defer(revocation_id=str(batch.pk), grant_id=str(connected.pk))
    run_jobs()
    assert AuditEvent.objects.count() == events and len(sandbox.requests()) == requests
    assert len(delivered()) == 1
    assert StaffRevocation.objects.get().finished_at == batch.finished_at


@pytest.mark.django_db(transaction=True)
def test_a_job_killed_after_revoking_is_finished_by_its_retry_without_repeating_a_step(
    portal, sandbox, connected, revoker
):
    """The first run revoked at Zoho and died before recording; the retry reports Revoked."""
    url = batch_url(confirm(revoker, [connected]))
    item = StaffRevocationItem.objects.select_related("revocation__actor").get()
    assert bulk_revocation._revoke(item) == "revoked"  # the run that was killed
    run_jobs()  # the same job, retried
    assert audit_actions(connected)[-2:] == ["grant.revoke_requested", "grant.revoked"]
    assert audit_actions(connected).count("grant.revoke_requested") == 1
    assert len(sandbox.requests(endpoint="revoke")) == 1
    assert [m.to for m in delivered()] == [["alice@example.com"]]  # told, once
    body = client_for(revoker).get(url).content.decode()
    assert ">Revoked<" in body and "Already revoked" not in body


@pytest.mark.django_db(transaction=True)
def test_racing_jobs_record_each_grant_once_and_end_the_batch_once(
    revoker, make_grant, bob, settings
):
    """Every job of a batch twice at once (a retried job beside the original): one outcome
    per grant, one revocation request per grant, the batch ended once, each owner told once."""
    settings.SANDBOX_BASE_URL = "http://127.0.0.1:9/sandbox"  # nothing listens: Zoho is down
    grants = [
        make_grant(zoho_user_id="1"),
        make_grant(zoho_user_id="2"),
        make_grant(user=bob, zoho_user_id="3"),
        make_grant(user=bob, zoho_user_id="4"),
    ]
    batch_url(confirm(revoker, grants))
    batch = StaffRevocation.objects.get()
    racers = [
        partial(bulk_revocation.revoke_batch_item, revocation_id=batch.pk, grant_id=grant.pk)
        for grant in grants * 2
    ]
    assert race(racers).errors == []
    assert set(StaffRevocationItem.objects.values_list("outcome", flat=True)) == {"pending"}
    for grant in grants:
        assert audit_actions(grant).count("grant.revoke_requested") == 1
    assert StaffRevocation.objects.get().finished_at is not None
    assert sorted(m.to[0] for m in delivered()) == ["alice@example.com", "bob@example.com"]


def test_a_grant_revoked_by_someone_else_before_its_job_runs_reads_already_revoked(
    revoker, make_grant
):
    grant = make_grant()
    url = batch_url(confirm(revoker, [grant]))
    ZohoGrant.objects.filter(pk=grant.pk).update(status="revoked")  # say, its owner
    run_jobs()
    body = client_for(revoker).get(url).content.decode()
    assert "Already revoked; nothing done" in body and "1 of 1 done" in body
    assert not AuditEvent.objects.filter(grant_id=grant.pk).exists() and delivered() == []


def test_a_batch_of_revoked_grants_is_done_at_once(revoker, make_grant):
    grant = make_grant(status="revoked")
    url = batch_url(confirm(revoker, [grant]))
    assert queued() == []
    body = client_for(revoker).get(url).content.decode()
    assert "1 of 1 done" in body and not refreshes(body) and delivered() == []


def test_DB_07_an_audit_write_failure_revokes_nothing_and_the_batch_finishes(
    revoker, make_grant, bob
):
    """DB-07: the REVOKING mark and its audit row commit together or not at all."""
    grants = [make_grant(), make_grant(user=bob, zoho_user_id="2")]
    url = batch_url(confirm(revoker, grants, "fraud"))
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_refuse_audit() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'audit sink down'; END $$ LANGUAGE plpgsql"
        )
        cursor.execute(
            "CREATE TRIGGER test_refuse_audit BEFORE INSERT ON accounts_auditevent "
            "FOR EACH ROW EXECUTE FUNCTION test_refuse_audit()"
        )
    run_jobs()
    body = client_for(revoker).get(url).content.decode()
    assert body.count("<td>Not revoked") == 2 and "2 of 2 done" in body
    assert "Some grants could not be revoked" in body and "Owners of" not in body
    for grant in grants:
        grant.refresh_from_db()
        assert grant.status == "active" and grant.refresh_token_encrypted is not None
    assert delivered() == []


# -- who may see a batch ---------------------------------------------------------------------


def test_a_batch_page_needs_revoke_any_grant(alice, staff, make_user, make_grant, revoker):
    url = batch_url(confirm(revoker, [make_grant(status="revoked")]))
    assert_permission_matrix(
        method="get", url=url, codename="revoke_any_grant",
        alice=alice, staff=staff, make_user=make_user, ok=(200,),
    )  # fmt: skip
    # Staff who may only look at grants do not see it; another revoker does (it is the
    # service's revocation, like the audit log, not one staff member's).
    viewer = make_user("viewer@example.com", is_staff=True)
    give(viewer, "view_all_grants")
    assert client_for(viewer).get(url).status_code == 403
    colleague = make_user("colleague@example.com", is_staff=True)
    give(colleague, "revoke_any_grant")
    assert client_for(colleague).get(url).status_code == 200
    assert client_for(revoker).post(url).status_code == 405


def test_the_grant_list_links_recent_batches_for_who_may_revoke(
    revoker, make_user, make_grant, settings
):
    settings.SANDBOX_BASE_URL = "http://127.0.0.1:9/sandbox"  # nothing listens: Zoho is down
    url = batch_url(confirm(revoker, [make_grant()]))
    listing = client_for(revoker).get("/staff/grants/").content.decode()
    assert f'href="{url}"' in listing and "0 of 1 done, in progress" in listing
    run_jobs()
    listing = client_for(revoker).get("/staff/grants/").content.decode()
    assert "1 of 1 done" in listing and "in progress" not in listing
    viewer = make_user("viewer@example.com", is_staff=True)
    give(viewer, "view_all_grants")
    assert url not in client_for(viewer).get("/staff/grants/").content.decode()


def test_a_batch_page_costs_the_same_queries_for_one_grant_or_a_hundred(
    revoker, make_grant, make_user
):
    from django.test.utils import CaptureQueriesContext

    small = batch_url(confirm(revoker, [make_grant(status="revoked")]))
    owners = [make_user(f"owner-{n}@example.com") for n in range(100)]
    large = batch_url(confirm(revoker, [make_grant(user=owner) for owner in owners]))
    client = client_for(revoker)
    with CaptureQueriesContext(connection) as one:
        client.get(small)
    with CaptureQueriesContext(connection) as hundred:
        body = client.get(large).content.decode()
    assert "0 of 100 done" in body and len(hundred) == len(one)


def test_an_unknown_batch_is_404(revoker):
    url = "/staff/revocations/00000000-0000-0000-0000-000000000000/"
    assert client_for(revoker).get(url).status_code == 404


def test_the_batch_and_its_jobs_commit_together_or_not_at_all(revoker, make_grant):
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_refuse_job() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'queue down'; END $$ LANGUAGE plpgsql"
        )
        cursor.execute(
            "CREATE TRIGGER test_refuse_job BEFORE INSERT ON procrastinate_jobs "
            "FOR EACH ROW EXECUTE FUNCTION test_refuse_job()"
        )
    with pytest.raises(exceptions.ConnectorException):
        confirm(revoker, [make_grant()])
    assert not StaffRevocation.objects.exists() and not StaffRevocationItem.objects.exists()


def test_bad_input_records_no_batch_and_defers_nothing(revoker, make_grant):
    grant = make_grant()
    cases: list[dict[str, Any]] = [
        {"grant": [str(grant.pk), "00000000-0000-0000-0000-000000000000"], "reason": "x"},
        {"grant": [str(grant.pk)], "reason": "  "},
        {"grant": [str(grant.pk)] + [f"00000000-0000-0000-0000-{n:012d}" for n in range(100)]},
        {"grant": [], "reason": "x"},
    ]
    for data in cases:
        response = client_for(revoker).post("/staff/grants/revoke/", {**data, "confirm": "1"})
        assert response.status_code == 400
    assert not StaffRevocation.objects.exists() and queued() == []
    assert not ProcrastinateJob.objects.exists()


def test_DB_07_a_failing_final_audit_row_leaves_the_grant_revoking_not_half_wiped(
    revoker, make_grant, settings
):
    """DB-07 on the second step: the wipe and its audit row roll back together."""
    settings.SANDBOX_BASE_URL = "http://127.0.0.1:9/sandbox"  # nothing listens: Zoho is down
    settings.ZOHO_HTTP_TIMEOUT = 1.0
    grant = make_grant()
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_refuse_revoked() RETURNS trigger AS $$ BEGIN "
            "IF NEW.action <> 'grant.revoke_requested' THEN RAISE EXCEPTION 'audit down'; "
            "END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        cursor.execute(
            "CREATE TRIGGER test_refuse_revoked BEFORE INSERT ON accounts_auditevent "
            "FOR EACH ROW EXECUTE FUNCTION test_refuse_revoked()"
        )
    data = {"grant": str(grant.pk), "reason": "fraud", "confirm": "1"}
    response = client_for(revoker).post("/staff/grants/revoke/", data)
    run_jobs()
    body = client_for(revoker).get(response["Location"]).content.decode()
    assert "Revoking: Zoho has not confirmed yet" in body
    grant.refresh_from_db()
    assert grant.status == "revoking" and grant.refresh_token_encrypted is not None
    assert list(AuditEvent.objects.filter(grant_id=grant.pk).values_list("action", flat=True)) == [
        "grant.revoke_requested"
    ]
