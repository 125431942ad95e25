"""Run the background health check by hand, synchronously, through the same code."""

from typing import Any
from uuid import UUID

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from portal.management.progress import Bar
from portal.models import ZohoGrant
from portal.upkeep import sweeps


class Command(BaseCommand):
    help = (
        "Check grants now (a fresh token through the token service, then Desk's organizations) "
        "and print a summary. Default: the grants that are due; --all: every live grant; "
        "--grant ID: one grant. Progress goes to stderr."
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
            with Bar(self.stderr, label="check_grants", unit="grants", total=total) as bar:
                summary = sweeps.check_due_grants(on_checked=lambda outcome: bar.advance())
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
