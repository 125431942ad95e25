"""Make a portal user staff and give them staff-page permissions (operators' shortcut)."""

from typing import Any

from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from portal.staff.access import (
    MANAGE_SERVICE_KEYS,
    MANAGE_USERS,
    MANAGE_WEBHOOKS,
    REVOKE_ANY_GRANT,
    RUN_MIGRATIONS,
    VIEW_ALL_GRANTS,
    VIEW_AUDIT_LOG,
)

PERMISSIONS = (
    VIEW_ALL_GRANTS,
    REVOKE_ANY_GRANT,
    VIEW_AUDIT_LOG,
    MANAGE_USERS,
    MANAGE_SERVICE_KEYS,
    MANAGE_WEBHOOKS,
    RUN_MIGRATIONS,
)


class Command(BaseCommand):
    help = "Make EMAIL staff and grant staff-page permissions (--all, or --perm one or more times)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--all", action="store_true", help="Every staff-page permission.")
        parser.add_argument("--perm", action="append", default=[], choices=PERMISSIONS)

    def handle(self, *args: Any, **options: Any) -> None:
        wanted = list(PERMISSIONS) if options["all"] else options["perm"]
        if not wanted:
            raise CommandError("Name permissions with --perm, or use --all.")
        user = User.objects.filter(email__iexact=options["email"].strip()).first()
        if user is None:
            raise CommandError("No portal user has that email; they must sign up first.")
        for name in wanted:
            app_label, codename = name.split(".")
            permission = Permission.objects.get(
                content_type__app_label=app_label, codename=codename
            )
            user.user_permissions.add(permission)
        if not user.is_staff:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
        self.stdout.write(f"{user.email} is staff with: {', '.join(sorted(wanted))}")
