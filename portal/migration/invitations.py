"""Inviting a campaign's customers who could not be converted, and reminding them (issue 17).

Who is invited: a customer imported without a token, or whose conversion failed for good
(:data:`FOR_GOOD`: a dead authtoken, a wrong org, a refresh token Zoho refused). The import
and the conversion defer :data:`INVITE_TASK` (on the mail queue) in the transaction that
decides it, with the customer's id only; the job (:func:`send_invitation`) makes a fresh
connect session for the customer's portal user (``connect_sessions.create_for_user``; the
previous one is expired), renders the mail and hands it to the mail server. The link's secret
lives in that rendered mail alone: the database keeps the session's digest, the job's
arguments and the audit row only ids.

After the mail server took the message the customer is recorded as invited (``invited_at``,
``invitations_sent``, audit ``migration.invited``). A mail server refusing the recipient at
delivery (``SMTPRecipientsRefused``) records a bounce instead (``bounced_at``, audit
``migration.bounced``) and the link is expired. Reminders (:func:`defer_due_reminders`, a
periodic task) go out ``MIGRATION_REMINDER_DAYS`` days before the deadline to the invited who
have not connected, opted out or bounced. A customer whose user already holds an active grant
is marked connected instead of mailed; the connect link's own finish marks it too
(``connect_sessions.finish_connect_session``).
"""

import logging
import smtplib
from datetime import date, datetime, time, timedelta
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts import outbox, request_id
from accounts.audit import AuditContext, record_event
from accounts.models import AuditEvent
from portal import zoho
from portal.grants import connect_sessions
from portal.migration import opt_out
from portal.models import MigrationCustomer, ZohoGrant

logger = logging.getLogger(__name__)
Step = MigrationCustomer.Step
Action = AuditEvent.Action

INVITE_TASK = "portal.send_migration_invitation"  # portal/tasks.py, on the mail queue
REMINDERS_TASK = "portal.send_migration_reminders"  # periodic (portal/upkeep/schedules.py)
FOR_GOOD = ("dead_authtoken", "wrong_org", "refresh_rejected")  # conversion failures to invite
TEMPLATES = "portal/email/migration_invitation"
INVITABLE = (
    Q(step=Step.TO_INVITE)
    | Q(step=Step.VERIFY_FAILED)
    | Q(step=Step.CONVERSION_FAILED, failure_reason__in=FOR_GOOD)
)
STILL_WAITING = Q(connected_at=None, opted_out_at=None, bounced_at=None)


def defer_invitation(customer_id: UUID, *, reminder: bool = False) -> None:
    """Queue the customer's invitation (call it in the transaction that decided it)."""
    outbox.mail_task(INVITE_TASK).defer(
        **request_id.tagged(customer_id=str(customer_id), reminder=reminder)
    )


@sensitive_variables("created")
def send_invitation(*, customer_id: UUID, reminder: bool = False) -> str:
    """The job's side: a fresh link, the mail, and what became of it (returned as a word)."""
    now = timezone.now()
    with transaction.atomic():
        customer = (
            MigrationCustomer.objects.select_for_update(of=("self",))
            .select_related("campaign", "user")
            .filter(pk=customer_id)
            .first()
        )
        if customer is None:
            return "gone"
        if skip := _reason_not_to_send(customer, now):
            return skip
        if customer.last_session_id:
            connect_sessions.expire_session(customer.last_session_id)
        created = connect_sessions.create_for_user(
            user=customer.user, context=AuditContext(), expires_at=link_expiry(customer, now)
        )
        customer.last_session_id = created.id
        customer.save(update_fields=["last_session", "updated_at"])
    try:
        outbox.deliver(
            kind="migration_reminder" if reminder else "migration_invitation",
            to=[customer.user.email],
            headers=opt_out.unsubscribe_headers(customer.pk),
            **_message(
                customer, link=created.url, expires_at=created.expires_at, reminder=reminder
            ),
        )
    except smtplib.SMTPRecipientsRefused as refused:
        return _bounced(customer, refused)
    _invited(customer, reminder=reminder)
    return "reminded" if reminder else "invited"


def _reason_not_to_send(customer: MigrationCustomer, now: datetime) -> str:
    if customer.connected_at or customer.opted_out_at or customer.bounced_at:
        return "stopped"
    if not MigrationCustomer.objects.filter(INVITABLE, pk=customer.pk).exists():
        return "not_invitable"
    if not customer.user.is_active:
        return "inactive"
    deadline = customer.campaign.deadline
    if deadline and timezone.localdate(now) > deadline:
        return "past_deadline"
    grant = ZohoGrant.objects.filter(
        user=customer.user, status=ZohoGrant.Status.ACTIVE, created_at__gte=customer.created_at
    ).first()
    if grant is not None:  # connected some other way since the import
        MigrationCustomer.objects.filter(pk=customer.pk).update(
            connected_at=now, grant=grant, updated_at=now
        )
        return "connected"
    return ""


def link_expiry(customer: MigrationCustomer, now: datetime) -> datetime:
    """``MIGRATION_LINK_TTL_DAYS`` from now, and never past the end of the deadline's day."""
    expiry = now + timedelta(days=int(settings.MIGRATION_LINK_TTL_DAYS))
    deadline = customer.campaign.deadline
    if deadline is not None:
        end = timezone.make_aware(datetime.combine(deadline + timedelta(days=1), time.min))
        expiry = min(expiry, end)
    return expiry


@sensitive_variables("link", "context")
def _message(
    customer: MigrationCustomer, *, link: str, expires_at: datetime, reminder: bool
) -> dict[str, str]:
    dc = zoho.data_centres().get(customer.data_centre)
    context = {
        "name": customer.user.first_name,
        "deadline": customer.campaign.deadline,
        "link": link,
        "expires_at": expires_at,
        "dc_label": dc.label if dc else "",
        # the choice on the connect form ("Where does your Zoho account live?")
        "region": zoho.REGIONS.get(customer.data_centre, zoho.REGIONS["global"]),
        "accounts_url": dc.accounts_url if dc else "",
        "desk_org_id": customer.desk_org_id,
        "email": customer.user.email,
        "unsubscribe_url": opt_out.unsubscribe_url(customer.pk),
        "reminder": reminder,
    }
    return {
        "subject": render_to_string(f"{TEMPLATES}_subject.txt", context),
        "text": render_to_string(f"{TEMPLATES}.txt", context),
        "html": render_to_string(f"{TEMPLATES}.html", context),
    }


def _invited(customer: MigrationCustomer, *, reminder: bool) -> None:
    now = timezone.now()
    with transaction.atomic():
        MigrationCustomer.objects.filter(pk=customer.pk).update(
            invited_at=Coalesce("invited_at", now),
            invitations_sent=F("invitations_sent") + 1,
            updated_at=now,
        )
        record_event(
            action=Action.MIGRATION_INVITED,
            detail={**_detail(customer), "reminder": reminder},
        )


def _bounced(customer: MigrationCustomer, refused: smtplib.SMTPRecipientsRefused) -> str:
    codes = [answer[0] for answer in refused.recipients.values()]
    error = f"smtp_{codes[0]}" if codes else "smtp_refused"
    now = timezone.now()
    with transaction.atomic():
        MigrationCustomer.objects.filter(pk=customer.pk).update(
            bounced_at=now, last_error=error, updated_at=now
        )
        if customer.last_session_id:
            connect_sessions.expire_session(customer.last_session_id)
        record_event(
            action=Action.MIGRATION_BOUNCED,
            outcome=AuditEvent.Outcome.FAILURE,
            detail={**_detail(customer), "error": error},
        )
    logger.info("migration row %s: invitation bounced (%s)", customer.pk, error)
    return "bounced"


def defer_due_reminders(*, today: date) -> int:
    """Queue today's reminders (once a day per customer); returns how many."""
    days = [int(day) for day in settings.MIGRATION_REMINDER_DAYS]
    deadlines = [today + timedelta(days=day) for day in days]
    due = 0
    with transaction.atomic():
        customers = (
            MigrationCustomer.objects.select_for_update(skip_locked=True)
            .filter(INVITABLE, STILL_WAITING, campaign__deadline__in=deadlines)
            .filter(invited_at__lt=timezone.make_aware(datetime.combine(today, time.min)))
            .exclude(last_reminded_on=today)
        )
        for customer_id in customers.values_list("pk", flat=True):
            MigrationCustomer.objects.filter(pk=customer_id).update(last_reminded_on=today)
            defer_invitation(customer_id, reminder=True)
            due += 1
    return due


def _detail(customer: MigrationCustomer) -> dict[str, object]:
    return {
        "campaign": customer.campaign.name,
        "line": customer.line,
        "user_id": customer.user_id,
        "connect_session": str(customer.last_session_id or ""),
    }
