"""Revoking a grant: stop hand-out at once, then revoke at Zoho and wipe the secrets.

Two steps, each under the grant's row lock (so revoke and refresh never interleave):
1. mark REVOKING and commit — from this moment no token is handed out;
2. call Zoho's revoke endpoint with the refresh token; on success (or when Zoho no longer
   knows the token) wipe both ciphertexts and mark REVOKED. When Zoho cannot be reached the
   grant stays REVOKING and the background task finishes it later.
"""

import logging
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts.audit import AuditContext, record_event
from accounts.models import AuditEvent
from portal import zoho
from portal.crypto import TokenDecryptError, decrypt_token
from portal.grants import client_health, early_warning, events, lifecycle, owner_alerts
from portal.models import ZohoGrant

logger = logging.getLogger(__name__)
Status = ZohoGrant.Status
Action = AuditEvent.Action


class RevokeOutcome(StrEnum):
    REVOKED = "revoked"
    PENDING = "pending"  # still REVOKING: Zoho did not confirm yet


class PurgeOutcome(StrEnum):
    PURGED = "purged"  # revoked at Zoho (or nothing left to revoke), ciphertexts wiped
    KEPT = "kept"  # Zoho did not answer: the ciphertext stays for the next purge
    SKIPPED = "skipped"  # no longer due, or another worker holds the row


def revoke_grant(
    *,
    grant_id: UUID,
    context: AuditContext | None = None,
    reason: str = "",
    revoked_by: str = "",
    detail: dict[str, Any] | None = None,
) -> RevokeOutcome:
    """Revoke a grant for its owner, an admin or the API (no context means the portal).

    ``revoked_by`` is what the owner is shown (default: the context's actor); ``detail`` is
    added to every audit event of this revocation (e.g. the owner, for a revocation by staff).
    """
    actor = context.actor if context is not None else None
    with transaction.atomic():
        grant = ZohoGrant.objects.select_for_update().get(pk=grant_id)
        if grant.status == Status.REVOKED:
            return RevokeOutcome.REVOKED
        if grant.status != Status.REVOKING:
            lifecycle.move(grant, to=Status.REVOKING)
            grant.revoked_by_repr = (revoked_by or str(actor or "Desk Connect"))[:254]
            grant.save(update_fields=["status", "revoked_by_repr", "updated_at"])
            record_event(
                action=Action.REVOKE_REQUESTED,
                context=context,
                grant=grant,
                detail={**({"reason": reason} if reason else {}), **(detail or {})},
            )
    return finish_revocation(grant_id=grant_id, context=context, detail=detail)


@sensitive_variables("token")
def finish_revocation(
    *,
    grant_id: UUID,
    context: AuditContext | None = None,
    detail: dict[str, Any] | None = None,
) -> RevokeOutcome:
    """Revoke a REVOKING grant's refresh token at Zoho and wipe it; safe to repeat."""
    extra = detail or {}
    with transaction.atomic():
        grant = ZohoGrant.objects.select_for_update().get(pk=grant_id)
        if grant.status == Status.REVOKED:
            return RevokeOutcome.REVOKED
        if grant.status != Status.REVOKING:
            raise ValueError(f"grant {grant.pk} is {grant.status}, not revoking")
        note = "confirmed"
        try:
            if grant.refresh_token_encrypted is not None:
                token = decrypt_token(grant.refresh_token_encrypted, context=str(grant.pk))
                zoho.revoke(dc=zoho.data_centre(grant.data_centre), token=token)
        except TokenDecryptError:
            note = "token_unreadable"
        except zoho.ZohoError as error:
            if isinstance(error, zoho.ZohoMisconfigured):  # the portal's client, not the grant
                client_health.note_rejected(data_centre=grant.data_centre, error=error.code)
            grant.failure_count += 1
            grant.last_error = error.code
            grant.save(update_fields=["failure_count", "last_error", "updated_at"])
            record_event(
                action=Action.REVOKE_FAILED,
                context=context,
                grant=grant,
                outcome=AuditEvent.Outcome.FAILURE,
                detail={"error": error.code, **extra},
            )
            return RevokeOutcome.PENDING
        _wipe(grant)
        record_event(
            action=Action.REVOKED,
            context=context,
            grant=grant,
            detail={"zoho": note, **extra},
        )
    _token_count_changed(grant)
    return RevokeOutcome.REVOKED


def _token_count_changed(grant: ZohoGrant) -> None:
    """One refresh token fewer for this Zoho user: the token-cap warnings may clear."""
    early_warning.evaluate_token_cap(data_centre=grant.data_centre, zoho_user_id=grant.zoho_user_id)


def _wipe(grant: ZohoGrant) -> None:
    lifecycle.move(grant, to=Status.REVOKED)
    grant.refresh_token_encrypted = None
    grant.access_token_encrypted = None
    grant.access_token_expires_at = None
    grant.revoked_at = timezone.now()
    grant.last_error = ""
    grant.save()
    events.emit(event_type=events.EventType.REVOKED, grant=grant)


def abandon_revocation(*, grant_id: UUID) -> bool:
    """Finish a revocation Zoho never confirmed: wipe the secrets locally, note it in the audit.

    The refresh token may still live at Zoho (the owner can remove the app in Zoho's
    Connected Apps); the portal no longer holds it. The owner and staff are told by a mail job
    committed with it. False when the grant is not REVOKING.
    """
    with transaction.atomic():
        grant = ZohoGrant.objects.select_for_update().get(pk=grant_id)
        if grant.status != Status.REVOKING:
            return False
        error = grant.last_error
        _wipe(grant)
        owner_alerts.tell_revocation_abandoned(grant_id=grant.pk)
        record_event(
            action=Action.REVOKED,
            grant=grant,
            outcome=AuditEvent.Outcome.FAILURE,
            detail={"zoho": "never_confirmed", "last_error": error},
        )
    logger.warning("revocation of grant %s finished locally; Zoho never confirmed", grant.pk)
    _token_count_changed(grant)
    return True


@sensitive_variables("token")
def purge_secrets(*, grant_id: UUID, stale_since: datetime) -> PurgeOutcome:
    """Revoke a condemned grant's refresh token at Zoho, then wipe its ciphertexts.

    For a grant Needs reconnect since ``stale_since`` or earlier. Needs reconnect does not
    prove the token is dead at Zoho, so it is revoked before the portal forgets it; Zoho no
    longer knowing it counts as revoked (RFC 7009 §2.2). When Zoho cannot be reached, the
    ciphertext is kept (and the failure audited) for the next purge to retry. The status
    stays Needs reconnect: reconnecting stores new tokens in place.
    """
    with transaction.atomic():
        grant = (
            ZohoGrant.objects.select_for_update(skip_locked=True)
            .filter(pk=grant_id, status=Status.NEEDS_RECONNECT, status_changed_at__lte=stale_since)
            .first()
        )
        if grant is None:
            return PurgeOutcome.SKIPPED
        since = grant.status_changed_at
        assert since is not None  # the filter asked for one
        note = "confirmed"
        try:
            if grant.refresh_token_encrypted is None:
                note = "nothing_to_revoke"
            else:
                token = decrypt_token(grant.refresh_token_encrypted, context=str(grant.pk))
                zoho.revoke(dc=zoho.data_centre(grant.data_centre), token=token)
        except TokenDecryptError:
            note = "token_unreadable"
        except zoho.ZohoError as error:
            record_event(
                action=Action.REVOKE_FAILED,
                grant=grant,
                outcome=AuditEvent.Outcome.FAILURE,
                detail={"error": error.code, "by": "secrets purge"},
            )
            return PurgeOutcome.KEPT
        grant.refresh_token_encrypted = grant.access_token_encrypted = None
        grant.access_token_expires_at = None
        grant.save(
            update_fields=[
                "refresh_token_encrypted",
                "access_token_encrypted",
                "access_token_expires_at",
                "updated_at",
            ]
        )
        record_event(
            action=Action.SECRETS_PURGED,
            grant=grant,
            detail={"needs_reconnect_since": since.isoformat(), "zoho": note},
        )
    return PurgeOutcome.PURGED
