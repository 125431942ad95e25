"""Converting one imported customer's legacy secret into a grant (issue 17, MG-01, MG-03).

Run by the ``portal.convert_migration_customer`` job (``portal/tasks.py``), one per row with a
token, on the ``migration`` queue. The job carries the row's id only; the secret is decrypted
here, inside the job, and goes nowhere but to Zoho at the row's own data centre:

- an authtoken is traded at ``authtooauth`` (``zoho.convert_authtoken``);
- a refresh token is verified by one refresh (``zoho.refresh``).

Either way the new tokens are stored exactly as a connect stores them
(``portal.grants.connect.store_grant``: identity, organizations, race handling, encryption,
``grant.connected``), plus ``grant.migrated`` in the same transaction.

Outcomes: ``converted``; a dead authtoken or wrong org → ``conversion_failed`` for good (the
customer is invited later); a refresh token Zoho refuses → ``verify_failed``, nothing stored;
Zoho refusing the portal's own client → ``conversion_failed`` (``misconfigured``) at once and the
data centre is marked client-rejected (``client_health``), as a refresh meeting it does; Zoho
unavailable or throttled → the job is retried (:data:`RETRY`) after ``retry_after`` or a
doubling back-off, up to :data:`MAX_ATTEMPTS` attempts or the campaign's deadline, then
``conversion_failed`` (``unavailable``). The secret is wiped (NULL) after the attempt whatever
the outcome; only a retryable failure keeps it, until that final attempt.

At most ``MIGRATION_CONCURRENCY_PER_DC`` conversions run at once per data centre, on the
upkeep's advisory-lock slots (``portal.grants.dc_slots``, a key of their own).
"""

import logging
import zlib
from datetime import timedelta
from functools import partial
from uuid import UUID

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from procrastinate import BaseRetryStrategy, RetryDecision
from procrastinate.jobs import Job

from accounts.audit import AuditContext, record_event
from accounts.models import AuditEvent
from portal import zoho
from portal.crypto import TokenDecryptError, decrypt_token
from portal.grants import client_health, dc_slots, orphans
from portal.grants.connect import ConnectFailed, identify, store_grant
from portal.migration import invitations
from portal.models import MigrationCustomer, ZohoGrant

logger = logging.getLogger(__name__)
Step = MigrationCustomer.Step
Kind = MigrationCustomer.Kind
Action = AuditEvent.Action

QUEUE = "migration"
CONVERT_TASK = "portal.convert_migration_customer"  # portal/tasks.py; named here for deferring
SLOT_PURPOSE = "portal.migration"
ROW_LOCK = zlib.crc32(b"portal.migration.row") & 0x7FFFFFFF  # first int4 of a row's lock
MAX_ATTEMPTS = 6
FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(hours=1)
SLOT_WAIT = timedelta(seconds=30)  # then the job steps aside and comes back (not an attempt)
WAITING = (Step.IMPORTED, Step.CONVERTING)


class ConversionDeferred(Exception):
    """Try this row again in ``seconds`` (Zoho unavailable or throttled, or no free slot)."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds
        super().__init__(f"retry in {seconds} s")


class _Retry(BaseRetryStrategy):
    """Retry exactly when the service asks, after the delay it names; never on a bug.

    The service bounds the attempts itself (:data:`MAX_ATTEMPTS`), so none is counted here.
    """

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, ConversionDeferred):
            return RetryDecision(retry_in={"seconds": exception.seconds})
        return None


RETRY = _Retry()


def secret_context(customer_id: UUID) -> str:
    """What a row's secret is bound to: that row alone."""
    return f"migration:{customer_id}"


def retry_delay(*, attempts: int, retry_after: int | None) -> int:
    """Seconds before the next attempt: a doubling back-off, never sooner than Zoho asked."""
    backoff = min(FIRST_RETRY * 2 ** max(attempts - 1, 0), MAX_RETRY)
    return max(int(backoff.total_seconds()), retry_after or 0)


def convert_customer(*, customer_id: UUID) -> str:
    """One conversion attempt for the row; returns its step afterwards.

    Raises :class:`ConversionDeferred` when the row should be tried again later. A row that
    is not waiting any more (converted, failed, a re-run job) is left as it is, and so is one
    another worker is converting right now (a stalled job run again).
    """
    customer = MigrationCustomer.objects.filter(pk=customer_id).first()
    if customer is None:
        return "gone"
    if customer.step not in WAITING or customer.secret_encrypted is None:
        return customer.step
    if not _lock_row(customer_id, lock=True):
        return "taken"
    try:
        key = dc_slots.dc_slot_key(customer.data_centre, purpose=SLOT_PURPOSE)
        limit = int(settings.MIGRATION_CONCURRENCY_PER_DC)
        slot = dc_slots.wait_for_slot(key, limit=limit, wait=SLOT_WAIT)
        if slot is None:
            raise ConversionDeferred(int(SLOT_WAIT.total_seconds()))
        try:
            return _attempt(customer_id)
        finally:
            dc_slots.release_slot(key, slot)
    finally:
        _lock_row(customer_id, lock=False)


def _lock_row(customer_id: UUID, *, lock: bool) -> bool:
    """Take (or release) the row's session advisory lock: one attempt per row at a time."""
    call = "pg_try_advisory_lock" if lock else "pg_advisory_unlock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {call}(%s::int4, hashtext(%s))", [ROW_LOCK, str(customer_id)])
        return bool(cursor.fetchone()[0])


@sensitive_variables("secret")
def _attempt(customer_id: UUID) -> str:
    with transaction.atomic():
        customer = (
            MigrationCustomer.objects.select_for_update()
            .select_related("campaign", "user")
            .filter(pk=customer_id, step__in=WAITING, secret_encrypted__isnull=False)
            .first()
        )
        if customer is None:  # done meanwhile
            return "taken"
        customer.step = Step.CONVERTING
        customer.attempts += 1
        customer.save(update_fields=["step", "attempts", "updated_at"])
    try:
        return _convert(customer)
    except ConversionDeferred:
        raise
    except Exception as error:
        # A bug still ends the attempt: the secret is not left behind for nobody to use.
        _fail(customer, reason="internal_error", error=type(error).__name__)
        raise


@sensitive_variables("secret")
def _convert(customer: MigrationCustomer) -> str:
    try:
        secret = decrypt_token(customer.secret_encrypted, context=secret_context(customer.pk))
    except TokenDecryptError:
        return _fail(customer, reason="unreadable", error="decrypt_failed")
    dc = zoho.data_centre(customer.data_centre)
    rejection = client_health.rejection_for(data_centre=dc.code)
    if rejection is not None:  # Zoho refuses the portal's client there: do not spend the token
        later = rejection.retry_after(now=timezone.now())
        paused = zoho.ZohoMisconfigured(rejection.error, retry_after=later)
        return _wait(customer, paused, reason="misconfigured")
    try:
        tokens = _tokens(customer, dc, secret)
    except zoho.ZohoError as error:
        return _failed_at_zoho(customer, dc, error)
    return _store(customer, dc, tokens)


@sensitive_variables("secret", "answer")
def _tokens(customer: MigrationCustomer, dc: zoho.DataCentre, secret: str) -> zoho.TokenSet:
    """New tokens from the row's secret, at the row's own data centre only (MG-03)."""
    if customer.kind == Kind.AUTHTOKEN:
        tokens = zoho.convert_authtoken(dc=dc, authtoken=secret, org_id=customer.desk_org_id)
    else:
        answer = zoho.refresh(dc=dc, refresh_token=secret)
        tokens = zoho.TokenSet(
            access_token=answer.access_token,
            refresh_token=answer.refresh_token or secret,
            expires_at=answer.expires_at,
            api_domain=answer.api_domain,
            scope="",
        )
    with transaction.atomic():  # Zoho took the portal's client: any rejection there is over
        client_health.note_working(data_centre=dc.code)
    return tokens


@sensitive_variables("tokens")
def _store(customer: MigrationCustomer, dc: zoho.DataCentre, tokens: zoho.TokenSet) -> str:
    context = AuditContext()
    try:
        who, orgs = identify(dc=dc, access_token=tokens.access_token)
        store_grant(
            context=context,
            user=customer.user,
            dc=dc,
            tokens=tokens,
            who=who,
            orgs=orgs,
            on_stored=partial(_converted, customer=customer, context=context),
        )
    except (zoho.ZohoError, ConnectFailed) as error:
        if customer.kind == Kind.AUTHTOKEN and tokens.refresh_token:
            # A retry converts again; this token is not kept.
            orphans.let_go(
                token=tokens.refresh_token, data_centre=dc.code, reason="migration_not_stored"
            )
        if isinstance(error, zoho.ZohoError):
            return _failed_at_zoho(customer, dc, error)
        return _wait(customer, zoho.ZohoUnavailable(error.reason), reason="unavailable")
    return Step.CONVERTED


def _converted(grant: ZohoGrant, *, customer: MigrationCustomer, context: AuditContext) -> None:
    """In the grant's own transaction: the row is done, its secret gone, and it is audited."""
    now = timezone.now()
    MigrationCustomer.objects.filter(pk=customer.pk).update(
        step=Step.CONVERTED,
        grant=grant,
        secret_encrypted=None,
        failure_reason="",
        last_error="",
        finished_at=now,
        updated_at=now,
    )
    record_event(
        action=Action.GRANT_MIGRATED,
        context=context,
        grant=grant,
        detail=_detail(customer),
    )


@sensitive_variables("token")
def _failed_at_zoho(customer: MigrationCustomer, dc: zoho.DataCentre, error: zoho.ZohoError) -> str:
    if isinstance(error, zoho.ZohoMisconfigured):
        with transaction.atomic():
            client_health.note_rejected(data_centre=dc.code, error=error.code)
        return _fail(customer, reason="misconfigured", error=error.code)
    if isinstance(error, zoho.ZohoUnavailable):
        return _wait(customer, error, reason="unavailable")
    if customer.kind == Kind.REFRESH_TOKEN:
        return _fail(customer, reason="refresh_rejected", error=error.code, step=Step.VERIFY_FAILED)
    reason = "rejected"
    if isinstance(error, zoho.DeadAuthtoken):
        reason = "dead_authtoken"
    elif isinstance(error, zoho.WrongOrganization):
        reason = "wrong_org"
    return _fail(customer, reason=reason, error=error.code)


def _wait(customer: MigrationCustomer, error: zoho.ZohoError, *, reason: str) -> str:
    """Keep the secret for a later attempt, or give up on the last one or past the deadline."""
    deadline = customer.campaign.deadline
    if customer.attempts >= MAX_ATTEMPTS or (deadline and timezone.localdate() > deadline):
        return _fail(customer, reason=reason, error=error.code)
    MigrationCustomer.objects.filter(pk=customer.pk).update(
        last_error=error.code, updated_at=timezone.now()
    )
    delay = retry_delay(attempts=customer.attempts, retry_after=error.retry_after)
    logger.info("migration row %s: %s, retry in %d s", customer.pk, error.code, delay)
    raise ConversionDeferred(delay)


def _fail(
    customer: MigrationCustomer, *, reason: str, error: str, step: str = Step.CONVERSION_FAILED
) -> str:
    """Final: the secret is wiped and the failure audited (the customer is invited later)."""
    now = timezone.now()
    with transaction.atomic():
        MigrationCustomer.objects.filter(pk=customer.pk).update(
            step=step,
            failure_reason=reason,
            last_error=error,
            secret_encrypted=None,
            finished_at=now,
            updated_at=now,
        )
        record_event(
            action=Action.MIGRATION_FAILED,
            outcome=AuditEvent.Outcome.FAILURE,
            detail={**_detail(customer), "reason": reason, "error": error},
        )
        if reason in invitations.FOR_GOOD:  # the customer is invited to connect instead
            invitations.defer_invitation(customer.pk)
    logger.info("migration row %s: %s (%s)", customer.pk, step, reason)
    return step


def _detail(customer: MigrationCustomer) -> dict[str, object]:
    return {
        "campaign": customer.campaign.name,
        "line": customer.line,
        "kind": customer.kind,
        "dc": customer.data_centre,
        "user_id": customer.user_id,
        "attempts": customer.attempts,
    }
