"""Create a service key for the token API and print it once."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.api.keys import create_service_key


class Command(BaseCommand):
    help = "Create a service key for the app's backend. The key is printed once; store it safely."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="What uses the key, e.g. 'desk-app production'.")
        parser.add_argument("--expires", type=int, metavar="DAYS", help="Valid for DAYS days.")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"].strip()
        if not name or len(name) > 100:
            raise CommandError("NAME must be 1 to 100 characters.")
        days = options["expires"]
        if days is not None and not 1 <= days <= 3650:
            raise CommandError("--expires takes 1 to 3650 days.")
        key, raw_key = create_service_key(name=name, expires_in_days=days)
        self.stdout.write(f"Service key {key.name!r} created. It is shown only now:\n{raw_key}")
