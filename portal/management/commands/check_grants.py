"""Run the background health check by hand, synchronously, through the same code."""

from collections.abc import Callable
from typing import Any
from uuid import UUID

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from portal.models import ZohoGrant
from portal.upkeep import sweeps

BAR_WIDTH = 30


class Command(BaseCommand):
    help = (
        "Check grants now (a fresh token through the token service, then Desk's organizations) "
        "and print a summary. Default: the grants that are due; --all: every live grant; "
        "--grant ID: one grant."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--grant", metavar="ID", help="check this grant only")
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--due", action="store_true", help="grants that are due (default)")
        which.add_argument("--all", action="store_true", help="every Active or Trouble grant")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["grant"]:
            summary = self._one(options["grant"])
        else:
            if options["all"]:
                sweeps.make_all_due()
            total = sweeps.due_for_check(now=timezone.now()).count()
            self.stdout.write(f"{total} grant(s) to check")
            summary = sweeps.check_due_grants(on_checked=self._progress(total))
            if total:
                self.stdout.write("")
        self.stdout.write(
            f"checked: {summary.checked}  healthy: {summary.healthy}  "
            f"needs reconnect: {summary.needs_reconnect}  trouble: {summary.trouble}"
            + (f"  skipped (client rejected): {summary.skipped}" if summary.skipped else "")
        )

    def _one(self, grant_id: str) -> sweeps.CheckSummary:
        summary = sweeps.CheckSummary()
        try:
            pk = UUID(grant_id)
        except ValueError:
            raise CommandError(f"No grant {grant_id}.") from None
        try:
            summary.add(sweeps.check_grant(grant_id=pk))
        except ZohoGrant.DoesNotExist:
            raise CommandError(f"No grant {grant_id}.") from None
        except sweeps.NotCheckable:
            raise CommandError(f"Grant {grant_id} is neither active nor in trouble.") from None
        return summary

    def _progress(self, total: int) -> Callable[[sweeps.CheckOutcome], None]:
        done = 0

        def step(outcome: sweeps.CheckOutcome) -> None:
            nonlocal done
            done += 1
            filled = BAR_WIDTH * min(done, total) // max(total, 1)
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            self.stdout.write(f"\r[{bar}] {done}/{total}", ending="")
            self.stdout.flush()

        return step
