"""Re-encrypting stored tokens with the newest key (``manage.py rotate_token_keys``).

Each row is rewritten in its own transaction under a row lock, after re-reading it, so a
refresh or revoke running at the same time never sees a half-rotated row, and a run that
is stopped part-way can simply be started again. Grants and the refresh tokens held for
revocation (``OrphanedToken``) are both rotated: a held token left under a retired key could
never be revoked at Zoho. So are webhook signing secrets (``WebhookEndpoint``): one left under
a retired key could sign no more deliveries.

Both take an optional ``progress(stage, done, total)`` callback, called after every row (the
command draws it; see ``portal/management/progress.py``).
"""

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from django.db import models, transaction
from django.db.models import Q

from portal import crypto
from portal.models import OrphanedToken, WebhookEndpoint, ZohoGrant

TOKEN_FIELDS = ("refresh_token_encrypted", "access_token_encrypted")
ORPHAN_FIELDS = ("token_encrypted",)
WEBHOOK_FIELDS = ("secret_encrypted", "previous_secret_encrypted")
Progress = Callable[[str, int, int], None]  # (stage, done, total)


class RotationOutcome(StrEnum):
    ROTATED = "rotated"
    CURRENT = "current"  # already under the newest key, or nothing to rotate
    UNREADABLE = "unreadable"  # no configured key decrypts it


@dataclass
class RotationReport:
    rotated: int = 0
    current: int = 0
    unreadable: int = 0

    def add(self, outcome: RotationOutcome) -> None:
        match outcome:
            case RotationOutcome.ROTATED:
                self.rotated += 1
            case RotationOutcome.CURRENT:
                self.current += 1
            case RotationOutcome.UNREADABLE:
                self.unreadable += 1


def rotate_grant_tokens(*, progress: Progress | None = None) -> RotationReport:
    """Rewrite every grant's ciphertext with the newest key; count what could not be read."""
    has_token = Q(refresh_token_encrypted__isnull=False) | Q(access_token_encrypted__isnull=False)
    rows = ZohoGrant.objects.filter(has_token)
    return _rotate_rows(rows, TOKEN_FIELDS, stage="grants", progress=progress)


def rotate_orphaned_tokens(*, progress: Progress | None = None) -> RotationReport:
    """Rewrite every held token (waiting for revocation at Zoho) with the newest key."""
    rows = OrphanedToken.objects.all()
    return _rotate_rows(rows, ORPHAN_FIELDS, stage="held tokens", progress=progress)


def rotate_webhook_secrets(*, progress: Progress | None = None) -> RotationReport:
    """Rewrite every webhook endpoint's signing secret with the newest key."""
    rows = WebhookEndpoint.objects.all()
    return _rotate_rows(rows, WEBHOOK_FIELDS, stage="webhook secrets", progress=progress)


def _rotate_rows(
    rows: models.QuerySet, fields: tuple[str, ...], *, stage: str, progress: Progress | None
) -> RotationReport:
    """One row at a time: lock it, re-read it, rewrite its stale ciphertexts, commit."""
    report = RotationReport()
    step = progress or (lambda stage, done, total: None)
    total = rows.count()
    step(stage, 0, total)
    for done, pk in enumerate(rows.values_list("pk", flat=True).iterator(), start=1):
        with transaction.atomic():
            row = rows.model.objects.select_for_update().only("pk", *fields).filter(pk=pk).first()
            outcome = _rotate_row(row, fields) if row is not None else None
        if outcome is not None:  # None: a held token revoked meanwhile, nothing left to rotate
            report.add(outcome)
        step(stage, done, max(total, done))
    return report


def _rotate_row(row: models.Model, fields: tuple[str, ...]) -> RotationOutcome:
    changed = []
    for field in fields:
        blob = getattr(row, field)
        if blob is None or not crypto.needs_rotation(blob):
            continue
        try:
            setattr(row, field, crypto.rotate(blob))
        except crypto.TokenDecryptError:
            return RotationOutcome.UNREADABLE
        changed.append(field)
    if not changed:
        return RotationOutcome.CURRENT
    row.save(update_fields=changed)
    return RotationOutcome.ROTATED
