"""Check the audit log's hash chain; exit 1 with the first problem, 0 with a summary."""

import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.audit_chain import verify_chain
from portal.management.progress import Stages


def _anchor(text: str) -> tuple[int, str]:
    match = re.fullmatch(r"(\d+):([0-9a-fA-F]{64})", text.strip())
    if not match:
        raise CommandError("--anchor takes SEQ:HASH (a seq and its 64 hex digit hash)")
    return int(match[1]), match[2].lower()


class Command(BaseCommand):
    help = (
        "Recompute the audit log's hash chain in the database and report the first gap "
        "(deletion), edited event, reordering or broken link. Exit status 1 on a problem. "
        "Progress goes to stderr."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--anchor",
            metavar="SEQ:HASH",
            help="also check that event SEQ still has HASH (a value printed by an earlier run)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        anchor = _anchor(options["anchor"]) if options["anchor"] else None
        with Stages(self.stderr, label="verify_audit") as progress:
            report = verify_chain(anchor=anchor, progress=progress)
        if report.problem is not None:
            raise CommandError(
                f"audit chain broken ({report.problem.kind}): {report.problem.message}"
            )
        self.stdout.write(
            f"audit chain intact: {report.checked} events checked, "
            f"last seq {report.last_seq or 0}, last hash {report.last_hash or '-'}"
        )
