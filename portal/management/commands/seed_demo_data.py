"""Fill the database with demo users, grants and audit events (development and benchmarks)."""

import time
from collections import Counter
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from accounts.models import AuditEvent, User
from portal.demo import seed
from portal.management.progress import Stages
from portal.models import ZohoGrant


class Command(BaseCommand):
    help = (
        "Insert realistic demo data in bulk (COPY): users, grants in every data centre and "
        "status, and audit events over the last 90 days. Deterministic for a given --seed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--grants", type=int, default=1000, help="grants to make (1000)")
        parser.add_argument("--events", type=int, default=10000, help="audit events (10000)")
        parser.add_argument("--seed", type=int, default=8, help="random seed (8)")
        parser.add_argument(
            "--append", action="store_true", help="add to a database that already holds data"
        )
        parser.add_argument(
            "--force", action="store_true", help="run with DEBUG off (it is demo data!)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError("DEBUG is off: refusing to put demo data here (use --force).")
        if options["grants"] < 1 or options["events"] < 0:
            raise CommandError("--grants must be at least 1 and --events at least 0.")
        if seed.has_data() and not options["append"]:
            raise CommandError(
                "The database already holds grants or audit events; use --append to add more."
            )
        started = time.perf_counter()
        with transaction.atomic(), Stages(self.stderr, label="seed_demo_data") as progress:
            summary = seed.seed_demo_data(
                grants=options["grants"],
                events=options["events"],
                seed=options["seed"],
                progress=progress,
            )
        self._tidy()
        seconds = time.perf_counter() - started
        self.stdout.write(self._summary(summary, seconds))

    def _tidy(self) -> None:
        """Planner statistics for the new rows, and (outside a transaction) the visibility map
        that lets counts use index-only scans: what autovacuum would do a little later."""
        command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        with connection.cursor() as cursor:
            for model in (User, ZohoGrant, AuditEvent):
                cursor.execute(f"{command} {connection.ops.quote_name(model._meta.db_table)}")

    def _summary(self, summary: seed.SeedSummary, seconds: float) -> str:
        def counts(counter: Counter[str]) -> str:
            return ", ".join(f"{key} {n:,}" for key, n in counter.most_common())

        stages = ", ".join(f"{stage} {s:.1f} s" for stage, s in summary.seconds.items())
        return "\n".join(
            [
                f"users: {summary.users:,} ({summary.staff:,} staff)",
                f"grants: {summary.grants:,}: {counts(summary.by_status)}",
                f"data centres: {counts(summary.by_dc)}",
                f"events: {summary.events:,} of {len(summary.by_action)} kinds",
                f"took {seconds:.1f} s ({stages})",
            ]
        )
