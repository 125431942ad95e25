"""Importing a campaign's customers (portal/migration/imports.py and manage.py
import_customers): validated whole, bound by external id then email, tokens stored encrypted,
one conversion job per token, idempotent, and a dry run that writes nothing."""

from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from accounts.models import AuditEvent, User
from portal.crypto import decrypt_token
from portal.migration.conversion import CONVERT_TASK, QUEUE, secret_context
from portal.models import MigrationCampaign, MigrationCustomer
from tests.migration_files import AUTHTOKEN, REFRESH_TOKEN, csv_of, row, run_import

pytestmark = pytest.mark.django_db
Step = MigrationCustomer.Step

THREE = csv_of(
    row("c-1", "one@example.com", dc="us", org="60000002", authtoken=AUTHTOKEN),
    row("c-2", "two@example.com", dc="eu", refresh_token=REFRESH_TOKEN),
    row("c-3", "three@example.com", name="Three"),
)


def jobs() -> list[ProcrastinateJob]:
    return list(ProcrastinateJob.objects.filter(task_name=CONVERT_TASK).order_by("id"))


def nothing_written() -> None:
    assert not User.objects.exists()
    assert not MigrationCampaign.objects.exists()
    assert not MigrationCustomer.objects.exists()
    assert jobs() == []
    assert not AuditEvent.objects.exists()


def test_a_file_with_a_problem_imports_nothing_and_names_its_lines():
    data = csv_of(
        row("c-1", "one@example.com", dc="us", org="60000002", authtoken=AUTHTOKEN),
        row("c-2", "two@example.com", dc="mars", refresh_token=REFRESH_TOKEN),
    )
    report = run_import(data)
    assert [(p.line, p.column, p.code) for p in report.problems] == [
        (3, "data_centre", "unknown_data_centre")
    ]
    assert report.lines()[0].startswith("line 3 (data_centre): Unknown data centre")
    nothing_written()


def test_a_dry_run_reports_what_would_happen_and_writes_nothing(make_user):
    make_user("two@example.com", email_verified_at=timezone.now())
    before = User.objects.count()
    report = run_import(THREE, dry_run=True)
    assert report.ok and report.dry_run
    assert report.counts() == {
        "rows": 3,
        "new_customers": 2,
        "matched": 1,
        "already_in_campaign": 0,
        "to_convert": 1,
        "to_verify": 1,
        "to_invite": 1,
    }
    assert "1 authtoken(s) would be queued for conversion" in report.lines()
    assert User.objects.count() == before
    assert User.objects.get(email="two@example.com").external_id is None
    assert not MigrationCampaign.objects.exists() and not MigrationCustomer.objects.exists()
    assert jobs() == [] and not AuditEvent.objects.exists()


def test_an_import_binds_customers_stores_tokens_encrypted_and_defers_one_job_per_token():
    report = run_import(THREE)
    assert report.ok and (report.new_customers, report.to_convert, report.to_verify) == (3, 1, 1)
    campaign = MigrationCampaign.objects.get(name="spring")
    customers = {c.user.external_id: c for c in MigrationCustomer.objects.select_related("user")}
    one, two, three = customers["c-1"], customers["c-2"], customers["c-3"]
    assert (one.kind, one.step, one.line, one.data_centre, one.desk_org_id) == (
        "authtoken",
        Step.IMPORTED,
        2,
        "us",
        "60000002",
    )
    assert decrypt_token(one.secret_encrypted, context=secret_context(one.pk)) == AUTHTOKEN
    assert decrypt_token(two.secret_encrypted, context=secret_context(two.pk)) == REFRESH_TOKEN
    assert (three.kind, three.step, three.secret_encrypted) == ("none", Step.TO_INVITE, None)
    assert three.user.first_name == "Three" and three.user.email_verified_at is not None
    queued = jobs()
    assert [job.queue_name for job in queued] == [QUEUE, QUEUE]
    assert {job.args["customer_id"] for job in queued} == {str(one.pk), str(two.pk)}
    imported = AuditEvent.objects.get(action="migration.imported")
    assert imported.detail["campaign_id"] == campaign.pk and imported.detail["to_convert"] == 1
    created = AuditEvent.objects.filter(action="user.created")
    assert [event.detail["via"] for event in created] == ["import"] * 3


def test_running_the_same_file_again_changes_nothing():
    run_import(THREE)
    users, events = User.objects.count(), AuditEvent.objects.count()
    report = run_import(THREE)
    assert report.ok
    assert (report.new_customers, report.matched, report.already_in_campaign) == (0, 3, 3)
    assert (report.to_convert, report.to_verify, report.to_invite) == (0, 0, 0)
    assert User.objects.count() == users
    assert MigrationCustomer.objects.count() == 3 and len(jobs()) == 2
    assert AuditEvent.objects.count() == events + 1  # only the second migration.imported


def test_a_converted_row_gets_no_second_job_and_a_customer_to_invite_can_bring_a_token():
    run_import(THREE)
    MigrationCustomer.objects.filter(user__external_id="c-1").update(
        step=Step.CONVERTED, secret_encrypted=None
    )
    ProcrastinateJob.objects.all().delete()
    again = csv_of(
        row("c-1", "one@example.com", dc="us", org="60000002", authtoken=AUTHTOKEN),
        row("c-3", "three@example.com", dc="eu", refresh_token=REFRESH_TOKEN),
    )
    report = run_import(again)
    assert (report.already_in_campaign, report.to_verify) == (1, 1)
    (job,) = jobs()
    three = MigrationCustomer.objects.get(user__external_id="c-3")
    assert job.args["customer_id"] == str(three.pk)
    assert (three.kind, three.step) == ("refresh_token", Step.IMPORTED)


def test_customers_are_matched_by_external_id_first_then_by_email(make_user):
    known = make_user("old-address@example.com", external_id="c-1")
    self_signed = make_user("two@example.com", email_verified_at=timezone.now())
    report = run_import(THREE)
    assert (report.matched, report.new_customers) == (2, 1)
    known.refresh_from_db()
    self_signed.refresh_from_db()
    assert known.email == "one@example.com"  # the external id wins; it takes the new email
    assert self_signed.external_id == "c-2"
    assert User.objects.filter(external_id="c-1").count() == 1


def test_an_email_another_customer_holds_is_a_problem_and_nothing_is_half_imported(make_user):
    make_user("two@example.com", external_id="someone-else")
    report = run_import(THREE)
    assert [(p.line, p.code) for p in report.problems] == [(3, "email_conflict")]
    assert User.objects.count() == 1
    assert not MigrationCustomer.objects.exists() and jobs() == []
    assert not MigrationCampaign.objects.exists()


def test_the_deadline_is_kept_and_can_be_moved_by_a_later_import():
    from accounts.audit import AuditContext
    from portal.migration.imports import import_customers

    import_customers(
        data=THREE, campaign="spring", deadline=date(2027, 3, 1), context=AuditContext()
    )
    import_customers(
        data=THREE, campaign="spring", deadline=date(2027, 4, 1), context=AuditContext()
    )
    assert MigrationCampaign.objects.get().deadline == date(2027, 4, 1)


def test_the_command_imports_with_a_progress_line_on_stderr(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_bytes(THREE)
    out, err = StringIO(), StringIO()
    call_command("import_customers", str(path), "--deadline", "2027-03-01", stdout=out, stderr=err)
    assert "Campaign customers: 3 row(s)" in out.getvalue()
    assert "1 authtoken(s) were queued for conversion" in out.getvalue()
    assert "import_customers: 3 rows" in err.getvalue()
    assert MigrationCampaign.objects.get().deadline == date(2027, 3, 1)
    assert AUTHTOKEN not in out.getvalue() + err.getvalue()


def test_the_command_dry_run_writes_nothing(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_bytes(THREE)
    out = StringIO()
    call_command("import_customers", str(path), "--campaign", "x", "--dry-run", stdout=out)
    assert "(dry run: nothing written)" in out.getvalue()
    nothing_written()


def test_the_command_prints_problems_by_line_and_fails(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_of(row("c-1", "not-an-email"), row("c-1", "b@example.com")))
    out = StringIO()
    with pytest.raises(CommandError, match="problem"):
        call_command("import_customers", str(path), stdout=out, stderr=StringIO())
    assert "line 2 (email): This is not a valid email address." in out.getvalue()
    assert "line 3 (external_id): The same external id is on line 2." in out.getvalue()
    nothing_written()


@pytest.mark.django_db(transaction=True)
def test_two_imports_of_the_same_file_at_once_make_one_customer_each():
    from tests.racing import race

    results, errors = race([lambda: run_import(THREE), lambda: run_import(THREE)])
    assert errors == []
    assert any(report.ok for report in results)
    for report in results:  # the loser either waited and matched, or was told to import again
        assert report.ok or {p.code for p in report.problems} == {"concurrent_change"}
    assert User.objects.filter(external_id="c-1").count() == 1
    assert MigrationCustomer.objects.count() == 3 and len(jobs()) == 2
