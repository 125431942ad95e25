"""System checks for settings that production needs (ids portal.E0xx / portal.W0xx)."""

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register


@register()
def check_database_is_postgres(**kwargs: Any) -> list[CheckMessage]:
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine != "django.db.backends.postgresql":
        return [Error("The portal runs on PostgreSQL only.", id="portal.E001")]
    return []
