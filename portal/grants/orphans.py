"""Refresh tokens received and not kept, held encrypted until Zoho confirms their revocation.

A reconnect replaces a grant's token; callbacks racing for the same Zoho user each bring one,
and only one is kept. Each such token still lives at Zoho and counts toward its cap of 20
per user, so it is written to an :class:`OrphanedToken` row in the same transaction that
decides not to keep it, revoked right after the commit, and, when Zoho cannot be reached,
revoked later by the worker (``portal.revoke_orphaned_tokens``), whose job carries no token.
While Zoho rejects the portal's own client in a token's data centre (``client_health``), the
token is not sent there at all: it stays held until refreshes there work again.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts.audit import record_event
from accounts.models import AuditEvent, User
from portal import zoho
from portal.crypto import TokenDecryptError, decrypt_token, encrypt_token
from portal.grants import client_health
from portal.models import OrphanedToken, ZohoGrant

logger = logging.getLogger(__name__)
Action = AuditEvent.Action
# Past this age a token is dropped unrevoked: Zoho's own cap has long pushed it out by then.
GIVE_UP_AFTER = timedelta(days=7)
SWEEP_BATCH = 100


@dataclass
class OrphanSweep:
    revoked: int = 0
    pending: int = 0
    dropped: int = 0


def _context(orphan_id: UUID) -> str:
    return f"orphan:{orphan_id}"


@sensitive_variables("token")
def keep_for_revocation(
    *, token: str, data_centre: str, grant_id: UUID | None, reason: str
) -> OrphanedToken:
    """Hold ``token`` for revocation; call inside the transaction that lets it go."""
    orphan = OrphanedToken(grant_id=grant_id, data_centre=data_centre, reason=reason)
    orphan.token_encrypted = encrypt_token(token, context=_context(orphan.pk))
    orphan.save()
    return orphan


@sensitive_variables("token")
def let_go(*, token: str, data_centre: str, reason: str, actor: User | None = None) -> None:
    """Revoke a refresh token the portal will not keep, now, outside any transaction; held
    for revocation first, so the sweep retries it if Zoho cannot confirm."""
    with transaction.atomic():
        orphan = keep_for_revocation(
            token=token, data_centre=data_centre, grant_id=None, reason=reason
        )
    revoke_orphan(orphan_id=orphan.pk, actor=actor)


@sensitive_variables("token")
def revoke_orphan(*, orphan_id: UUID, actor: User | None = None) -> bool:
    """Revoke one held token at Zoho and forget it; False while Zoho cannot confirm.

    A row another worker is on is skipped (it counts as not done here), and so is a token of
    a data centre rejecting the portal's client: asking again there only hammers Zoho.
    """
    with transaction.atomic():
        orphan = (
            OrphanedToken.objects.select_for_update(skip_locked=True).filter(pk=orphan_id).first()
        )
        if orphan is None or client_health.rejection_for(data_centre=orphan.data_centre):
            return False
        grant = _grant_of(orphan)
        detail = {"reason": orphan.reason}
        try:
            token = decrypt_token(bytes(orphan.token_encrypted), context=_context(orphan.pk))
            zoho.revoke(dc=zoho.data_centre(orphan.data_centre), token=token)
        except TokenDecryptError:
            orphan.delete()
            record_event(
                action=Action.SUPERSEDED_TOKEN_REVOKE_FAILED,
                actor=actor,
                grant=grant,
                outcome=AuditEvent.Outcome.FAILURE,
                detail={**detail, "error": "decrypt_failed", "given_up": True},
            )
            return True
        except zoho.ZohoError as error:
            if isinstance(error, zoho.ZohoMisconfigured):  # the portal's client, not the token
                client_health.note_rejected(data_centre=orphan.data_centre, error=error.code)
            orphan.attempts += 1
            orphan.last_error = error.code
            orphan.save(update_fields=["attempts", "last_error"])
            logger.warning("held token %s not revoked yet: %s", orphan.pk, error.code)
            record_event(
                action=Action.SUPERSEDED_TOKEN_REVOKE_FAILED,
                actor=actor,
                grant=grant,
                outcome=AuditEvent.Outcome.FAILURE,
                detail={**detail, "error": error.code, "attempts": orphan.attempts},
            )
            return False
        orphan.delete()
        record_event(
            action=Action.SUPERSEDED_TOKEN_REVOKED, actor=actor, grant=grant, detail=detail
        )
    return True


def revoke_orphaned_tokens() -> OrphanSweep:
    """The worker's pass: revoke every held token Zoho has not confirmed yet, oldest first."""
    sweep = OrphanSweep()
    sweep.dropped = _drop_stale()
    ids = list(
        OrphanedToken.objects.order_by("created_at").values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    for orphan_id in ids:
        if revoke_orphan(orphan_id=orphan_id):
            sweep.revoked += 1
        else:
            sweep.pending += 1
    return sweep


def _drop_stale() -> int:
    """Forget held tokens Zoho never confirmed within :data:`GIVE_UP_AFTER` (audited)."""
    dropped = 0
    with transaction.atomic():
        stale = OrphanedToken.objects.select_for_update(skip_locked=True).filter(
            created_at__lt=timezone.now() - GIVE_UP_AFTER
        )
        for orphan in stale:
            grant = _grant_of(orphan)
            record_event(
                action=Action.SUPERSEDED_TOKEN_REVOKE_FAILED,
                grant=grant,
                outcome=AuditEvent.Outcome.FAILURE,
                detail={"reason": orphan.reason, "error": orphan.last_error, "given_up": True},
            )
            orphan.delete()
            dropped += 1
    return dropped


def _grant_of(orphan: OrphanedToken) -> ZohoGrant | None:
    """The grant the token was for, when it still exists (for the audit event)."""
    if orphan.grant_id is None:
        return None
    return ZohoGrant.objects.filter(pk=orphan.grant_id).first()
