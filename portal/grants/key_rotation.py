"""Re-encrypting stored tokens with the newest key (``manage.py rotate_token_keys``).

Each row is rewritten in its own transaction under a row lock, after re-reading it, so a
refresh or revoke running at the same time never sees a half-rotated row, and a run that
is stopped part-way can simply be started again.
"""

from dataclasses import dataclass
from enum import StrEnum

from django.db import transaction
from django.db.models import Q

from portal import crypto
from portal.models import ZohoGrant

TOKEN_FIELDS = ("refresh_token_encrypted", "access_token_encrypted")


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


def rotate_grant_tokens() -> RotationReport:
    """Rewrite every grant's ciphertext with the newest key; count what could not be read."""
    report = RotationReport()
    has_token = Q(refresh_token_encrypted__isnull=False) | Q(access_token_encrypted__isnull=False)
    ids = ZohoGrant.objects.filter(has_token).values_list("pk", flat=True).iterator()
    for grant_id in ids:
        with transaction.atomic():
            grant = ZohoGrant.objects.select_for_update().only("pk", *TOKEN_FIELDS).get(pk=grant_id)
            outcome = _rotate_row(grant)
        report.add(outcome)
    return report


def _rotate_row(grant: ZohoGrant) -> RotationOutcome:
    changed = []
    for field in TOKEN_FIELDS:
        blob = getattr(grant, field)
        if blob is None or not crypto.needs_rotation(blob):
            continue
        try:
            setattr(grant, field, crypto.rotate(blob))
        except crypto.TokenDecryptError:
            return RotationOutcome.UNREADABLE
        changed.append(field)
    if not changed:
        return RotationOutcome.CURRENT
    grant.save(update_fields=changed)
    return RotationOutcome.ROTATED
