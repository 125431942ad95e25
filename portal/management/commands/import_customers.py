"""Import a campaign's customers from a CSV file (the service: ``portal.migration.imports``)."""

from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.audit import AuditContext
from portal.management.progress import Stages
from portal.migration.csv_rows import max_bytes
from portal.migration.imports import ImportReport, import_customers


class Command(BaseCommand):
    help = (
        "Import customers from FILE.csv (external_id,email,name,data_centre,desk_org_id,"
        "authtoken,refresh_token) into a migration campaign and queue the conversion of their "
        "authtokens and refresh tokens. Nothing is written when any row has a problem; "
        "--dry-run only reports. Safe to run again with the same file."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--campaign", help="Campaign name (default: the file's name).")
        parser.add_argument("--deadline", type=date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            with path.open("rb") as file:
                data = file.read(max_bytes() + 1)
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}") from None
        with Stages(self.stderr, label="import_customers") as progress:
            report = import_customers(
                data=data,
                campaign=options["campaign"] or path.stem,
                deadline=options["deadline"],
                context=AuditContext(),
                dry_run=options["dry_run"],
                progress=progress,
            )
        self._show(report)

    def _show(self, report: ImportReport) -> None:
        for line in report.lines():
            self.stdout.write(line)
        if not report.ok:
            raise CommandError(f"{len(report.problems)} problem(s): nothing was imported.")
