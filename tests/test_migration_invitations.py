"""Invitations and reminders of a campaign's customers who could not be converted
(portal/migration/invitations.py), their one-click unsubscribe (opt_out.py) and bounces, run
as the worker runs the mail jobs."""

from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from accounts.audit import AuditContext
from accounts.models import AuditEvent
from portal.migration import invitations, opt_out
from portal.migration.imports import import_customers
from portal.models import ConnectSession, MigrationCustomer, ZohoGrant
from tests.cast import EU
from tests.fake_smtp import FakeSMTP
from tests.jobs import queued, run_jobs
from tests.leaks import assert_no_leak, every_table_text
from tests.mail_parts import html_part
from tests.migration_files import csv_of, row
from tests.portal_browser import PortalBrowser

pytestmark = pytest.mark.django_db(transaction=True)
DEADLINE = date(2027, 3, 31)


def import_one(*, deadline: date = DEADLINE, email: str = "dana@customer.example") -> None:
    data = csv_of(row("c-1", email, name="Dana", dc="eu", org="70000001"))
    report = import_customers(
        data=data, campaign="spring", deadline=deadline, context=AuditContext()
    )
    assert report.ok and report.to_invite == 1


def customer() -> MigrationCustomer:
    return MigrationCustomer.objects.select_related("last_session").get(user__external_id="c-1")


def invite() -> list[str]:
    """Run the queued invitation jobs; the links of the messages they sent."""
    before = len(mail.outbox)
    run_jobs(invitations.INVITE_TASK)
    return [link_in(str(message.body)) for message in mail.outbox[before:]]


def link_in(text: str) -> str:
    return next(word for word in text.split() if "/connect/s/" in word)


def path_of(url: str) -> str:
    return urlsplit(url).path


def test_the_invitation_says_why_what_which_account_and_the_deadline():
    import_one()
    assert [job.args["customer_id"] for job in queued(invitations.INVITE_TASK)] == [
        str(customer().pk)
    ]
    [link] = invite()
    [message] = mail.outbox
    assert message.to == ["dana@customer.example"]
    assert "31 March 2027" in message.subject
    text = message.body
    assert "stops working on 31 March 2027" in text  # why, and the deadline
    assert 'Click "Continue", choose "Everywhere except China"' in text  # what to click
    assert 'click "Connect Zoho Desk"' in text
    assert "organization 70000001" in text and "Europe data centre" in text  # which account
    assert "Hello Dana" in text and link in html_part(message)
    unsubscribe = opt_out.unsubscribe_url(customer().pk)
    assert unsubscribe in text
    assert message.extra_headers["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    invited = customer()
    assert invited.invited_at is not None and invited.invitations_sent == 1
    assert invited.last_session is not None and invited.last_session.user_id == invited.user_id
    assert AuditEvent.objects.filter(action="migration.invited").count() == 1
    # The link's secret is in the mail alone: not in a job, an audit row or any table.
    secret = path_of(link).rstrip("/").rsplit("/", 1)[-1]
    jobs = str(list(ProcrastinateJob.objects.values_list("args", flat=True)))
    assert_no_leak([secret, link], jobs, every_table_text())


def test_the_link_works_once_and_connecting_through_it_marks_the_customer_connected(sandbox):
    import_one()
    [link] = invite()
    browser = Client()
    assert browser.get(path_of(link)).status_code == 200
    assert customer().link_opened_at is not None  # counts as "link opened" from now on
    assert browser.post(path_of(link)).status_code == 302
    assert Client().post(path_of(link)).status_code == 410  # used: a second opening fails
    PortalBrowser(browser, sandbox).connect(EU)
    done = customer()
    grant = ZohoGrant.objects.get(user_id=done.user_id)
    assert done.connected_at is not None and done.grant_id == grant.pk
    # Connected: no reminder is due any more, and a queued one is not sent.
    MigrationCustomer.objects.filter(pk=done.pk).update(
        invited_at=timezone.now() - timedelta(days=3)
    )
    assert invitations.defer_due_reminders(today=DEADLINE - timedelta(days=7)) == 0
    invitations.defer_invitation(done.pk, reminder=True)
    assert invite() == []


def test_a_second_invitation_revokes_the_first_link():
    import_one()
    [first] = invite()
    first_session = customer().last_session_id
    assert first_session is not None
    invitations.defer_invitation(customer().pk, reminder=True)
    [second] = invite()
    assert first != second and customer().last_session_id != first_session
    assert customer().invitations_sent == 2
    assert Client().get(path_of(first)).status_code == 410  # expired by the second
    assert ConnectSession.objects.get(pk=first_session).expires_at <= timezone.now()
    assert Client().get(path_of(second)).status_code == 200


def test_reminders_go_out_on_the_reminder_days_and_once_a_day(settings):
    settings.MIGRATION_REMINDER_DAYS = [14, 7, 3, 1]
    import_one()
    invite()
    MigrationCustomer.objects.update(invited_at=timezone.now() - timedelta(days=20))
    for days_left in (13, 8, 6, 2, 0):  # not a reminder day
        assert invitations.defer_due_reminders(today=DEADLINE - timedelta(days=days_left)) == 0
    for days_left in (14, 7, 3, 1):
        today = DEADLINE - timedelta(days=days_left)
        assert invitations.defer_due_reminders(today=today) == 1
        assert invitations.defer_due_reminders(today=today) == 0  # once that day
    assert len(invite()) == 4
    assert customer().invitations_sent == 5
    subjects = [m.subject for m in mail.outbox]
    assert subjects[0].startswith("Connect Zoho Desk again by 31 March 2027")
    assert subjects[1:] == ["Reminder: connect" + subjects[0].removeprefix("Connect")] * 4


@pytest.mark.parametrize("stop", ["opted_out_at", "bounced_at"])
def test_opting_out_or_a_bounce_stops_reminders(stop):
    import_one()
    invite()
    MigrationCustomer.objects.update(
        invited_at=timezone.now() - timedelta(days=20), **{stop: timezone.now()}
    )
    assert invitations.defer_due_reminders(today=DEADLINE - timedelta(days=7)) == 0
    invitations.defer_invitation(customer().pk, reminder=True)  # one queued before it stopped
    assert invite() == []


def test_a_recipient_the_mail_server_refuses_is_recorded_as_a_bounce(settings):
    import_one(email="gone@customer.example")
    with FakeSMTP(hanging=False, refuse=("gone@customer.example",)) as server:
        settings.MAILERS = server.settings()
        run_jobs(invitations.INVITE_TASK)
    bounced = customer()
    assert bounced.bounced_at is not None and bounced.last_error == "smtp_550"
    assert bounced.invited_at is None and bounced.invitations_sent == 0
    assert server.messages == []
    assert bounced.last_session is not None
    assert bounced.last_session.expires_at <= timezone.now()  # the link nobody got is dead
    assert AuditEvent.objects.filter(action="migration.bounced").count() == 1
    assert invitations.defer_due_reminders(today=DEADLINE - timedelta(days=7)) == 0


def test_one_click_unsubscribe_posts_without_a_session_or_csrf_token():
    import_one()
    invite()
    url = path_of(opt_out.unsubscribe_url(customer().pk))
    mail_client = Client(enforce_csrf_checks=True)  # no cookie, no token: a mail client
    page = mail_client.get(url)
    assert page.status_code == 200 and b"Stop these emails?" in page.content
    assert customer().opted_out_at is None  # a GET (a link scanner) changes nothing
    done = mail_client.post(url, "List-Unsubscribe=One-Click", content_type="text/plain")
    assert done.status_code == 200 and b"You are unsubscribed" in done.content
    assert customer().opted_out_at is not None
    assert mail_client.post(url, {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert AuditEvent.objects.filter(action="migration.opted_out").count() == 1  # once


@pytest.mark.parametrize("change", ["signature", "customer"])
def test_a_forged_unsubscribe_link_opts_nobody_out(change):
    import_one()
    token = path_of(opt_out.unsubscribe_url(customer().pk)).rstrip("/").rsplit("/", 1)[-1]
    value, signature = token.rsplit(":", 1)
    if change == "signature":
        forged = f"{value}:{signature[::-1]}"
    else:
        forged = f"00000000-0000-0000-0000-000000000000:{signature}"  # another id, same signature
    assert Client().post(f"/unsubscribe/{forged}/").status_code == 404
    assert customer().opted_out_at is None


def test_a_conversion_that_failed_for_good_is_invited(sandbox):
    legacy = sandbox.authtoken(dc="us")
    data = csv_of(
        row(
            "c-1",
            "dana@customer.example",
            dc="us",
            org=str(legacy["org_ids"][0]),
            authtoken=str(legacy["authtoken"]),
        )
    )
    import_customers(data=data, campaign="spring", deadline=DEADLINE, context=AuditContext())
    assert queued(invitations.INVITE_TASK) == []
    sandbox.add_fault("dead_authtoken", zuid=str(legacy["zuid"]), count=1)
    run_jobs("portal.convert_migration_customer")
    assert customer().failure_reason == "dead_authtoken"
    [link] = invite()
    assert "/connect/s/" in link and customer().invitations_sent == 1
