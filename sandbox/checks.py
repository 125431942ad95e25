"""System check: the sandbox must never run in production by accident (id sandbox.E001)."""

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from sandbox import guard


@register()
def check_sandbox_needs_debug(**kwargs: Any) -> list[CheckMessage]:
    """Refuse SANDBOX_ENABLED with DEBUG off, except while the test suite runs."""
    if not settings.SANDBOX_ENABLED or settings.DEBUG or guard.running_tests():
        return []
    return [
        Error(
            "SANDBOX_ENABLED is on while DEBUG is off: the Zoho sandbox would be served in "
            "production.",
            hint="Unset SANDBOX_ENABLED (it is for development, demos and tests only).",
            id="sandbox.E001",
        )
    ]
