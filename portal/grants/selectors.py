"""Services and selectors for grants: listing, and revoking tokens at Zoho."""

import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from accounts.audit import AuditContext, list_events, record_event
from accounts.models import AuditEvent, User
from portal.grants import client_health
from portal.grants.status import GrantRow, grant_row
from portal.grants.wording import event_label
from portal.models import ZohoGrant

logger = logging.getLogger(__name__)


def grants_for_user(user: User) -> QuerySet[ZohoGrant]:
    """The user's grants, newest first, without ciphertext columns."""
    return (
        ZohoGrant.objects.filter(user=user)
        .defer("refresh_token_encrypted", "access_token_encrypted")
        .order_by("-created_at")
    )


def grant_rows_for_user(user: User) -> list[GrantRow]:
    """The user's visible grants as display rows (hidden revoked ones left out)."""
    now = timezone.now()
    rejected = client_health.rejected_codes()
    return [
        grant_row(grant, now=now, client_rejected=grant.data_centre in rejected)
        for grant in grants_for_user(user).filter(hidden_at__isnull=True)
    ]


def grant_detail_row(grant: ZohoGrant) -> GrantRow:
    """One grant's display row, saying so when its data centre rejects the portal's client."""
    rejected = client_health.rejection_for(data_centre=grant.data_centre) is not None
    return grant_row(grant, now=timezone.now(), client_rejected=rejected)


def grant_for_user(user: User, grant_id: UUID, *, context: AuditContext | None = None) -> ZohoGrant:
    """One of the user's grants; ``Http404`` for anyone else's, exactly as for a missing one.

    Asking for a grant that exists but is someone else's is a failed authorization (AC-01):
    with a ``context`` it is audited, as ``user.access_refused`` by the asker, with the grant's
    id in the detail only, so the row stays out of the owner's history (which would show
    them the asker's email) and in the staff audit log.
    """
    grant = grants_for_user(user).filter(pk=grant_id).first()
    if grant is None:
        if context is not None and ZohoGrant.objects.filter(pk=grant_id).exists():
            logger.warning("user %s asked for a grant that is not theirs", user.pk)
            record_event(
                action=AuditEvent.Action.ACCESS_REFUSED,
                context=context,
                outcome=AuditEvent.Outcome.FAILURE,
                detail={"grant_id": str(grant_id)},
            )
        raise Http404("No such connection.")
    return grant


def hide_grant(*, grant: ZohoGrant, context: AuditContext) -> bool:
    """Take a revoked grant off its owner's list (the row and its audit trail stay)."""
    with transaction.atomic():
        hidden = ZohoGrant.objects.filter(
            pk=grant.pk, status=ZohoGrant.Status.REVOKED, hidden_at__isnull=True
        ).update(hidden_at=timezone.now())
        if hidden:
            record_event(action=AuditEvent.Action.HIDDEN, context=context, grant=grant)
    return bool(hidden)


@dataclass(frozen=True)
class HistoryRow:
    at: datetime
    label: str
    who: str
    outcome: str


def grant_history(*, grant: ZohoGrant, viewer_id: int, limit: int = 100) -> list[HistoryRow]:
    """A grant's audit events as its owner may see them (other people are not named)."""
    rows = []
    for event in list_events(grant_id=grant.pk)[:limit]:
        if event.actor_id == viewer_id:
            who = "You"
        elif event.actor_id is None:
            who = "Desk Connect"
        else:
            who = "Another portal user or an administrator"
        label = event_label(event.action) or event.action
        rows.append(HistoryRow(at=event.created_at, label=label, who=who, outcome=event.outcome))
    return rows
