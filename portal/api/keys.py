"""Service keys for the token API: creation (shown once), digests, revocation."""

import hashlib
import re
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.audit import record_event
from accounts.models import AuditEvent, User
from portal.models import ServiceKey

_KEY_SHAPE = re.compile(r"^dck_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


def digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def parse(raw_key: str) -> str | None:
    """The prefix of a well-formed key, or None."""
    match = _KEY_SHAPE.match(raw_key)
    return match.group(1) if match else None


def create_service_key(
    *, name: str, created_by: User | None = None, expires_in_days: int | None = None
) -> tuple[ServiceKey, str]:
    """Create a key and return it with its one-time plaintext."""
    prefix = secrets.token_hex(6)
    raw_key = f"dck_{prefix}_{secrets.token_urlsafe(32)}"
    expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
    with transaction.atomic():
        key = ServiceKey.objects.create(
            name=name,
            prefix=prefix,
            key_digest=digest(raw_key),
            created_by=created_by if getattr(created_by, "pk", None) else None,
            expires_at=expires_at,
        )
        record_event(
            action=AuditEvent.Action.SERVICE_KEY_CREATED,
            actor=created_by,
            detail={"service_key": str(key), "expires_at": str(expires_at or "never")},
        )
    return key, raw_key


def revoke_service_key(*, key: ServiceKey, actor: User | None = None) -> None:
    with transaction.atomic():
        if ServiceKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        ):
            record_event(
                action=AuditEvent.Action.SERVICE_KEY_REVOKED,
                actor=actor,
                detail={"service_key": str(key)},
            )
