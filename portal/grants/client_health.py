"""Whether Zoho accepts the portal's own client in each data centre ("our mistakes are not
the customer's").

``invalid_client``, ``invalid_client_secret``, ``invalid_redirect_uri`` and
``unauthorized_client`` speak about the portal (a regenerated secret, a data centre not
enabled for the client), never about a grant. Such an answer marks the data centre
client-rejected (audited and mailed to staff once per episode) and leaves the grant as it was.
While rejected, refreshes in that data centre are refused at once, except one probe whenever
``next_probe_at`` comes (1 minute, doubling to 1 hour); the first refresh that works there
clears the state.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from uuid import UUID

from django.db import transaction
from django.db.models import QuerySet, Subquery
from django.utils import timezone

from accounts import outbox
from accounts.audit import record_event
from accounts.models import AuditEvent, User
from portal.models import VIEW_ALL_GRANTS, DataCentreHealth, ZohoGrant

logger = logging.getLogger(__name__)

PORTAL_MISCONFIGURED = "portal_misconfigured"
FIRST_PROBE = timedelta(minutes=1)
MAX_PROBE = timedelta(hours=1)
# Staff who see the fleet are told (the staff overview's permission).
ALERTED_PERMISSION = VIEW_ALL_GRANTS


@dataclass(frozen=True)
class Rejection:
    """A data centre whose Zoho rejects the portal's client (no secrets)."""

    data_centre: str
    since: datetime
    error: str
    next_probe_at: datetime | None
    probe_failures: int

    def retry_after(self, *, now: datetime) -> int:
        """Seconds until the next probe (at least one)."""
        if self.next_probe_at is None:
            return int(FIRST_PROBE.total_seconds())
        return max(int((self.next_probe_at - now).total_seconds()) + 1, 1)


def _rejection(row: DataCentreHealth) -> Rejection:
    assert row.rejected_since is not None
    return Rejection(
        row.data_centre, row.rejected_since, row.last_error, row.next_probe_at, row.probe_failures
    )


def _rejected_rows() -> QuerySet[DataCentreHealth]:
    return DataCentreHealth.objects.filter(rejected_since__isnull=False)


def rejected_data_centres() -> list[Rejection]:
    """Every data centre rejecting the portal's client now, by code."""
    return [_rejection(row) for row in _rejected_rows().order_by("data_centre")]


def rejected_codes() -> frozenset[str]:
    """The codes of the data centres rejecting the portal's client (for status rows)."""
    return frozenset(_rejected_rows().values_list("data_centre", flat=True))


def rejection_for(*, data_centre: str) -> Rejection | None:
    row = _rejected_rows().filter(pk=data_centre).first()
    return _rejection(row) if row else None


def rejection_for_grant(*, grant_id: UUID) -> Rejection | None:
    """The rejection of the grant's data centre, if any, in one query."""
    dc = ZohoGrant.objects.filter(pk=grant_id).values("data_centre")[:1]
    row = _rejected_rows().filter(pk=Subquery(dc)).first()
    return _rejection(row) if row else None


def probe_delay(failures: int) -> timedelta:
    """1, 2, 4 … minutes between probes, at most an hour."""
    delay: timedelta = FIRST_PROBE * 2 ** min(failures, 10)
    return min(delay, MAX_PROBE)


def claim_probe(rejection: Rejection, *, now: datetime) -> bool:
    """Take the one probe of a rejected data centre if it is due; True for the one taker.

    A conditional update in its own short statement (no lock outlives it): of many callers at
    the probe time, one moves ``next_probe_at`` on and probes; the others keep refusing.
    """
    if rejection.next_probe_at is not None and rejection.next_probe_at > now:
        return False
    lease = now + probe_delay(rejection.probe_failures)
    claimed = _rejected_rows().filter(
        pk=rejection.data_centre, next_probe_at=rejection.next_probe_at
    )
    return claimed.update(next_probe_at=lease) == 1


def note_rejected(*, data_centre: str, error: str) -> Rejection:
    """Zoho rejected the portal's client in ``data_centre``: start or extend the episode.

    Called in the transaction of the failed call. The first rejection of an episode is audited
    and, after commit, mailed to staff; later ones only push the next probe further out.
    """
    DataCentreHealth.objects.bulk_create(
        [DataCentreHealth(data_centre=data_centre)], ignore_conflicts=True
    )
    row = DataCentreHealth.objects.select_for_update().get(pk=data_centre)
    now = timezone.now()
    row.last_error = error
    if row.rejected_since is None:
        row.rejected_since, row.probe_failures = now, 0
        record_event(
            action=AuditEvent.Action.CLIENT_REJECTED,
            outcome=AuditEvent.Outcome.FAILURE,
            detail={"data_centre": data_centre, "error": error},
        )
        transaction.on_commit(partial(_tell_staff, data_centre=data_centre, error=error))
    else:
        row.probe_failures += 1
    row.next_probe_at = now + probe_delay(row.probe_failures)
    row.save()
    logger.error("zoho rejected the portal's client in dc=%s: %s", data_centre, error)
    return _rejection(row)


def note_working(*, data_centre: str) -> None:
    """A refresh worked in ``data_centre``: end a rejection episode there, if one is open."""
    if not _rejected_rows().filter(pk=data_centre).exists():
        return
    row = _rejected_rows().select_for_update().filter(pk=data_centre).first()
    if row is None:
        return
    assert row.rejected_since is not None
    record_event(
        action=AuditEvent.Action.CLIENT_RECOVERED,
        detail={
            "data_centre": data_centre,
            "error": row.last_error,
            "since": row.rejected_since.isoformat(),
            "probes_failed": row.probe_failures,
        },
    )
    row.rejected_since = row.next_probe_at = None
    row.probe_failures = 0
    row.save()
    logger.warning("zoho accepts the portal's client again in dc=%s", data_centre)


def staff_to_alert() -> list[str]:
    """Addresses of active staff who may see the fleet."""
    staff = User.objects.filter(is_staff=True, is_active=True).order_by("pk")
    return [user.email for user in staff if user.has_perm(ALERTED_PERMISSION)]


def _tell_staff(*, data_centre: str, error: str) -> None:
    """One email per episode, queued for the mail worker (``accounts.outbox``)."""
    recipients = staff_to_alert()
    if not recipients:
        return
    dc = data_centre.upper()
    body = (
        f"Zoho's {dc} data centre rejects Desk Connect's OAuth client ({error}).\n\n"
        "This is the portal's configuration, not the customers': no grant was changed and "
        "no owner was told to reconnect. Refreshes in this data centre are paused; one is "
        "tried again after 1 minute, then after doubling intervals up to an hour, and "
        "everything resumes by itself once Zoho accepts the client.\n\n"
        "Check the client id and secret (ZOHO_CLIENT_SECRET, ZOHO_"
        f"{dc}_CLIENT_SECRET), the redirect URI, and that the {dc} data centre is enabled "
        "for the client in Zoho's API console. The staff overview shows the state."
    )
    subject = f"Zoho {dc} rejects Desk Connect's client ({error})"
    outbox.send_later(kind="client_rejected", to=recipients, subject=subject, text=body)
