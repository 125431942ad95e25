"""A logging filter that scrubs anything shaped like an OAuth secret from every record.

Secrets should never be logged in the first place; this is the second wall, and it also
cleans request lines written by the web server (the callback's ``code`` and ``state``).
"""

import logging
import re
from typing import Any

from django.http import HttpRequest
from django.views.debug import SafeExceptionReporterFilter

REDACTED = "[redacted]"
_PATTERNS = [
    # Zoho tokens and codes: 1000.<hex>.<hex>
    re.compile(r"\b1000\.[0-9a-fA-F]{16,}\.[0-9a-fA-F]{16,}\b"),
    # Authorization headers
    re.compile(r"(?i)(Zoho-oauthtoken|Bearer)\s+[^\s'\"]+"),
    # A password-reset link's user and token in a request line (gunicorn's access log)
    re.compile(r"(?<=/password/reset/)[^/\s\"?]+/[^/\s\"?]+"),
    # A connect link's secret in a request line or a logged path
    re.compile(r"(?<=/connect/s/)[^/\s\"?]+"),
    # An email confirmation link's signed token
    re.compile(r"(?<=/verify-email/)(?!resend/)[^/\s\"?]+"),
    # Query-string or form values of secret parameters
    re.compile(
        r"(?i)\b(code|state|code_verifier|refresh_token|access_token|client_secret|token)"
        r"=[^&\s'\"]+"
    ),
]


def redact(text: str) -> str:
    """``text`` with every secret-shaped part replaced."""
    for pattern in _PATTERNS:
        text = pattern.sub(_replacement, text)
    return text


def _replacement(match: re.Match[str]) -> str:
    whole = match.group(0)
    if "=" in whole and not whole.startswith("1000."):
        return f"{whole.split('=', 1)[0]}={REDACTED}"
    if " " in whole:
        return f"{whole.split()[0]} {REDACTED}"
    return REDACTED


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class PortalExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's error reports, with query strings and request paths scrubbed as well."""

    def get_safe_request_meta(self, request: HttpRequest) -> dict[str, Any]:
        meta = super().get_safe_request_meta(request)
        for name in (
            "QUERY_STRING",
            "REQUEST_URI",
            "RAW_URI",
            "HTTP_REFERER",
            "HTTP_AUTHORIZATION",
        ):
            if isinstance(meta.get(name), str):
                meta[name] = redact(meta[name]) if name != "HTTP_AUTHORIZATION" else REDACTED
        return meta

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        return [
            (name, redact(value) if isinstance(value, str) else value)
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]
