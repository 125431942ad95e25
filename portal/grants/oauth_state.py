"""Pending authorization requests: created at connect, consumed once at the callback.

The browser carries only the random ``state``; the server keeps its SHA-256 digest together
with a digest of the session key, the user, the PKCE verifier (encrypted) and what the flow
is for. Consuming takes a row lock, so two callbacks racing with one state cannot both
proceed, and it happens whatever the outcome, so a state never works twice.
"""

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from portal.crypto import decrypt_token, encrypt_token
from portal.models import PendingAuthorization

STATE_TTL = timedelta(minutes=10)
MAX_PENDING_PER_USER = 10


class StateError(Exception):
    """The callback's state cannot be used; ``reason`` says why in a word."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class Pending:
    """A consumed pending request, with the verifier in memory only."""

    region: str
    grant_id: UUID | None
    code_verifier: str = field(repr=False)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def create_pending(
    *, user_id: int, session_key: str, region: str, grant_id: UUID | None = None
) -> tuple[str, str]:
    """Record a new pending request and return ``(state, code_verifier)``."""
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43-128
    now = timezone.now()
    digest = _digest(state)
    PendingAuthorization.objects.create(
        state_digest=digest,
        session_digest=_digest(session_key),
        user_id=user_id,
        region=region,
        code_verifier_encrypted=encrypt_token(verifier, context=digest),
        grant_id=grant_id,
        created_at=now,
        expires_at=now + STATE_TTL,
    )
    _prune(user_id)
    return state, verifier


def consume_pending(*, user_id: int, session_key: str, state: str) -> Pending:
    """Use up the pending request named by ``state`` or raise :class:`StateError`.

    Reasons: ``missing`` (no state), ``unknown`` (not ours, or from another session or user),
    ``used`` (replay or a concurrent duplicate), ``expired``.
    """
    if not state or len(state) > 200:
        raise StateError("missing" if not state else "unknown")
    digest = _digest(state)
    with transaction.atomic():
        row = PendingAuthorization.objects.select_for_update().filter(state_digest=digest).first()
        if row is None or row.user_id != user_id or row.session_digest != _digest(session_key):
            raise StateError("unknown")
        if row.consumed_at is not None:
            raise StateError("used")
        row.consumed_at = timezone.now()
        row.save(update_fields=["consumed_at"])
        expired = row.expires_at <= row.consumed_at
    if expired:
        raise StateError("expired")
    return Pending(
        region=row.region,
        grant_id=row.grant_id,
        code_verifier=decrypt_token(row.code_verifier_encrypted, context=digest),
    )


def _prune(user_id: int) -> None:
    """Drop this user's old rows: expired a day ago, or beyond the newest few."""
    mine = PendingAuthorization.objects.filter(user_id=user_id)
    mine.filter(expires_at__lt=timezone.now() - timedelta(days=1)).delete()
    keep = mine.order_by("-created_at").values_list("pk", flat=True)[:MAX_PENDING_PER_USER]
    mine.filter(consumed_at__isnull=True).exclude(pk__in=list(keep)).delete()
