"""A migration campaign's funnel as a text table or JSON (figures: ``portal.migration.funnel``)."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.migration import funnel
from portal.models import MigrationCampaign


class Command(BaseCommand):
    help = (
        "Show campaign NAME's funnel: imported, converted automatically, invited, link opened, "
        "connected, healthy, with counts and percentages of the imported (--json for scripts)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--json", action="store_true", help="One JSON object.")

    def handle(self, *args: Any, **options: Any) -> None:
        campaign = MigrationCampaign.objects.filter(name=options["name"]).first()
        if campaign is None:
            raise CommandError(f"No campaign named {options['name']!r}.")
        steps = funnel.funnel(campaign)
        deadline = campaign.deadline.isoformat() if campaign.deadline else None
        if options["json"]:
            document = {
                "campaign": campaign.name,
                "deadline": deadline,
                "steps": [
                    {
                        "step": s.key,
                        "label": s.label,
                        "count": s.count,
                        "percent": round(s.percent, 1),
                    }
                    for s in steps
                ],
            }
            self.stdout.write(json.dumps(document, indent=2))
            return
        self.stdout.write(f"Campaign {campaign.name}, deadline {deadline or 'none'}")
        width = max(len(s.label) for s in steps)
        self.stdout.write(f"{'Step'.ljust(width)}  {'Customers':>9}  {'%':>5}")
        for s in steps:
            self.stdout.write(f"{s.label.ljust(width)}  {s.count:>9}  {s.percent:>5.1f}")
