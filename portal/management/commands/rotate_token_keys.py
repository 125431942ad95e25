"""Re-encrypt every stored token with the newest key of TOKEN_ENCRYPTION_KEYS."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from portal.grants.key_rotation import (
    RotationReport,
    rotate_grant_tokens,
    rotate_orphaned_tokens,
    rotate_webhook_secrets,
)
from portal.management.progress import Stages


class Command(BaseCommand):
    help = (
        "Re-encrypt stored tokens (grants, refresh tokens held for revocation at Zoho, webhook "
        "signing secrets) with "
        "the first key of TOKEN_ENCRYPTION_KEYS. Safe to stop and run again. Retire an old key "
        "only after a run reports no unreadable rows. Progress goes to stderr."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        with Stages(self.stderr, label="rotate_token_keys") as progress:
            grants = rotate_grant_tokens(progress=progress)
            held = rotate_orphaned_tokens(progress=progress)
            webhooks = rotate_webhook_secrets(progress=progress)
        self.stdout.write(f"grants: {_counts(grants)}")
        self.stdout.write(f"held for revocation: {_counts(held)}")
        self.stdout.write(f"webhook secrets: {_counts(webhooks)}")
        if grants.unreadable or held.unreadable or webhooks.unreadable:
            raise CommandError(
                f"{grants.unreadable} grant(s), {held.unreadable} held token(s) and "
                f"{webhooks.unreadable} webhook secret(s) could not be decrypted with any "
                "configured key."
            )


def _counts(report: RotationReport) -> str:
    return (
        f"rotated: {report.rotated}  already current: {report.current}  "
        f"unreadable: {report.unreadable}"
    )
