"""Re-encrypt every stored token with the newest key of TOKEN_ENCRYPTION_KEYS."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from portal.grants.key_rotation import rotate_grant_tokens


class Command(BaseCommand):
    help = (
        "Re-encrypt stored tokens with the first key of TOKEN_ENCRYPTION_KEYS. Safe to stop "
        "and run again. Retire an old key only after a run reports no unreadable rows."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report = rotate_grant_tokens()
        self.stdout.write(
            f"rotated: {report.rotated}  already current: {report.current}  "
            f"unreadable: {report.unreadable}"
        )
        if report.unreadable:
            raise CommandError(
                f"{report.unreadable} grant(s) could not be decrypted with any configured key."
            )
