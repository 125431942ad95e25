"""Importing a campaign's customers from a CSV file (issue 17): validate, bind, store, defer.

:func:`import_customers` is the one service behind ``manage.py import_customers`` and the
staff upload page. The file is validated whole first (``csv_rows.validate``); any problem
and nothing is written. Otherwise, in one transaction: the campaign is created (or reused by
name), each row's customer is created or matched by external id, then email
(``accounts.external_ids.bind_customer``), each row's authtoken or refresh token is stored
encrypted (bound to its row's id) and one conversion job per token is deferred (the jobs
commit with the rows or not at all), and ``migration.imported`` is audited with counts.

Re-running the same file changes nothing: a customer already in the campaign keeps its row,
its step and its job; only one still waiting for a token (``to_invite``) takes one now. A dry
run does the same work and rolls it back, so its report is exactly what a real run would do.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from uuid import UUID

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.views.decorators.debug import sensitive_variables
from procrastinate.contrib.django import app
from procrastinate.types import JSONDict

from accounts import request_id
from accounts.audit import AuditContext, record_event
from accounts.external_ids import MAX_DISPLAY_NAME, ExternalIdError, bind_customer
from accounts.models import AuditEvent, User
from portal.crypto import encrypt_token
from portal.migration import invitations
from portal.migration.conversion import CONVERT_TASK, QUEUE, secret_context
from portal.migration.csv_rows import ImportRow, Problem, validate
from portal.models import MigrationCampaign, MigrationCustomer

Step = MigrationCustomer.Step
Kind = MigrationCustomer.Kind
Progress = Callable[[str, int, int | None], None]
# What a binding conflict reads as in the report (never the conflicting user's data).
CONFLICTS = {
    "email_conflict": "Another portal user already has this email.",
    "staff_user": "This email or external id belongs to a staff account.",
    "user_inactive": "This customer's portal account is deactivated.",
}
RACED = "Another import or connect link changed this customer at the same moment; import again."


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do). Counts only, never a cell's value."""

    campaign: str
    dry_run: bool
    rows: int = 0
    new_customers: int = 0
    matched: int = 0
    already_in_campaign: int = 0
    to_convert: int = 0  # authtokens
    to_verify: int = 0  # refresh tokens
    to_invite: int = 0
    problems: tuple[Problem, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "new_customers": self.new_customers,
            "matched": self.matched,
            "already_in_campaign": self.already_in_campaign,
            "to_convert": self.to_convert,
            "to_verify": self.to_verify,
            "to_invite": self.to_invite,
        }

    def lines(self) -> list[str]:
        """In words, for the command and the staff page: problems by line, or what was done."""
        if self.problems:
            return [
                f"line {p.line}{f' ({p.column})' if p.column else ''}: {p.message}"
                for p in self.problems
            ]
        verb = "would be" if self.dry_run else "were"
        dry = " (dry run: nothing written)" if self.dry_run else ""
        return [
            f"Campaign {self.campaign}: {self.rows} row(s){dry}",
            f"{self.new_customers} new customer(s), {self.matched} matched to portal users",
            f"{self.already_in_campaign} already in the campaign (left as they were)",
            f"{self.to_convert} authtoken(s) {verb} queued for conversion",
            f"{self.to_verify} refresh token(s) {verb} queued for verification",
            f"{self.to_invite} customer(s) without a token, to invite",
        ]


class _RolledBack(Exception):
    """Leaves the import's transaction so nothing of it is kept."""


@sensitive_variables("data", "checked")
def import_customers(
    *,
    data: bytes,
    campaign: str,
    deadline: date | None = None,
    context: AuditContext,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import the file ``data`` into the campaign named ``campaign``; see the module's doc."""
    report = ImportReport(campaign=campaign, dry_run=dry_run)
    checked = validate(data)
    if not checked.ok:
        report.problems = checked.problems
        return report
    report.rows = len(checked.rows)
    try:
        with transaction.atomic():
            _import(checked.rows, report, campaign, deadline, context, progress)
            if report.problems or dry_run:
                raise _RolledBack
    except _RolledBack:
        pass
    return report


@sensitive_variables("rows", "row")
def _import(
    rows: tuple[ImportRow, ...],
    report: ImportReport,
    name: str,
    deadline: date | None,
    context: AuditContext,
    progress: Progress | None,
) -> None:
    campaign = _campaign(name, deadline, context)
    jobs: list[JSONDict] = []
    invite: list[UUID] = []
    problems: list[Problem] = []
    for done, row in enumerate(rows, start=1):
        try:
            with transaction.atomic():
                job = _import_row(campaign, row, report, context, invite)
        except ExternalIdError as error:
            message = CONFLICTS.get(error.code, "This customer cannot be bound.")
            problems.append(Problem(row.line, "external_id", error.code, message))
            continue
        except IntegrityError:  # a concurrent import or connect session bound them first
            problems.append(Problem(row.line, "external_id", "concurrent_change", RACED))
            continue
        if job is not None:
            jobs.append(job)
        if progress is not None:
            progress("rows", done, len(rows))
    report.problems = tuple(problems)
    if problems:
        return
    if jobs:
        app.configure_task(name=CONVERT_TASK, queue=QUEUE, allow_unknown=False).batch_defer(*jobs)
    for customer_id in invite:  # invitations go out once the import has committed
        invitations.defer_invitation(customer_id)
    record_event(
        action=AuditEvent.Action.MIGRATION_IMPORTED,
        context=context,
        detail={"campaign": campaign.name, "campaign_id": campaign.pk, **report.counts()},
    )


def _campaign(name: str, deadline: date | None, context: AuditContext) -> MigrationCampaign:
    actor = context.actor if isinstance(context.actor, User) else None
    campaign, created = MigrationCampaign.objects.select_for_update().get_or_create(
        name=name, defaults={"deadline": deadline, "created_by": actor}
    )
    if not created and deadline is not None and campaign.deadline != deadline:
        campaign.deadline = deadline
        campaign.save(update_fields=["deadline"])
    return campaign


@sensitive_variables("row", "secret")
def _import_row(
    campaign: MigrationCampaign,
    row: ImportRow,
    report: ImportReport,
    context: AuditContext,
    invite: list[UUID],
) -> JSONDict | None:
    """Bind the row's customer and record them in the campaign; their job's arguments, if any
    (a new customer without a token is added to ``invite``)."""
    known = User.objects.filter(Q(external_id=row.external_id) | Q(email__iexact=row.email))
    existed = known.exists()
    user = bind_customer(
        external_id=row.external_id,
        email=row.email,
        display_name=row.name[:MAX_DISPLAY_NAME],
        context=context,
        via="import",
    )
    report.matched += existed
    report.new_customers += not existed
    kind, secret = _token_of(row)
    customer = (
        MigrationCustomer.objects.select_for_update().filter(campaign=campaign, user=user).first()
    )
    if customer is not None and (customer.step != Step.TO_INVITE or kind == Kind.NONE):
        report.already_in_campaign += 1
        return None
    customer = customer or MigrationCustomer(campaign=campaign, user=user)
    customer.line, customer.kind = row.line, kind
    customer.data_centre, customer.desk_org_id = row.data_centre, row.desk_org_id
    if kind == Kind.NONE:
        customer.step = Step.TO_INVITE
        customer.save()
        report.to_invite += 1
        invite.append(customer.pk)
        return None
    customer.step = Step.IMPORTED
    customer.secret_encrypted = encrypt_token(secret, context=secret_context(customer.pk))
    customer.save()
    if kind == Kind.AUTHTOKEN:
        report.to_convert += 1
    else:
        report.to_verify += 1
    return request_id.tagged(customer_id=str(customer.pk))


@sensitive_variables("row")
def _token_of(row: ImportRow) -> tuple[str, str]:
    if row.authtoken:
        return Kind.AUTHTOKEN, row.authtoken
    if row.refresh_token:
        return Kind.REFRESH_TOKEN, row.refresh_token
    return Kind.NONE, ""
