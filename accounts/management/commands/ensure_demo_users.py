"""Create the demo admin and demo user for `make run` (development only)."""

import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import User

DEMO_USERS = (
    ("admin@example.com", "DEMO_ADMIN_PASSWORD", True),
    ("demo@example.com", "DEMO_USER_PASSWORD", False),
)


class Command(BaseCommand):
    help = "Create admin@example.com and demo@example.com if missing, and print their passwords."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("Demo users are for development only (DEBUG is off).")
        for email, variable, is_admin in DEMO_USERS:
            password = os.environ.get(variable, "")
            if not password:
                raise CommandError(f"{variable} is not set; `make run` writes it to .env.")
            if not User.objects.filter(email__iexact=email).exists():
                create = User.objects.create_superuser if is_admin else User.objects.create_user
                create(email, password, email_verified_at=timezone.now())
            # Demo people count as verified, also when made before verification existed.
            User.objects.filter(email__iexact=email, email_verified_at=None).update(
                email_verified_at=timezone.now()
            )
            role = "admin" if is_admin else "user "
            self.stdout.write(f"  demo {role}  {email}  password: {password}")
