"""System checks for settings the portal needs (ids portal.E0xx / portal.W0xx)."""

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from portal import zoho
from portal.crypto import key_problem


@register()
def check_database_is_postgres(**kwargs: Any) -> list[CheckMessage]:
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine != "django.db.backends.postgresql":
        return [Error("The portal runs on PostgreSQL only.", id="portal.E001")]
    return []


@register()
def check_token_keys(**kwargs: Any) -> list[CheckMessage]:
    problem = key_problem(list(settings.TOKEN_ENCRYPTION_KEYS), settings.SECRET_KEY)
    if problem:
        return [
            Error(
                problem,
                hint="Set TOKEN_ENCRYPTION_KEYS to one or more Fernet keys, newest first "
                "(`make run` writes one into .env for development).",
                id="portal.E002",
            )
        ]
    return []


@register()
def check_zoho_client(**kwargs: Any) -> list[CheckMessage]:
    if settings.ZOHO_CLIENT_ID and settings.ZOHO_CLIENT_SECRET:
        return []
    level = Warning if settings.DEBUG else Error
    return [
        level(
            "ZOHO_CLIENT_ID and ZOHO_CLIENT_SECRET are not both set: nobody can connect.",
            hint="Register a Server-based client at api-console.zoho.com.",
            id="portal.E003",
        )
    ]


@register(deploy=True)
def check_https_to_zoho(**kwargs: Any) -> list[CheckMessage]:
    """Outside development every Zoho URL and the redirect URI must use https."""
    if settings.DEBUG:
        return []
    problems: list[CheckMessage] = []
    for dc in zoho.data_centres().values():
        for url in (dc.accounts_url, dc.desk_url):
            if urlsplit(url).scheme != "https":
                problems.append(Error(f"{dc.code}: {url} is not https.", id="portal.E004"))
    if urlsplit(settings.ZOHO_REDIRECT_URI).scheme != "https":
        problems.append(Error("ZOHO_REDIRECT_URI must use https.", id="portal.E005"))
    return problems


@register()
def check_warning_thresholds(**kwargs: Any) -> list[CheckMessage]:
    """The early warning's thresholds must be reachable (Zoho keeps 20 tokens per user)."""
    problems: list[CheckMessage] = []
    if not 1 <= settings.UPKEEP_WARNING_TOKEN_COUNT <= 20:
        problems.append(
            Error("UPKEEP_WARNING_TOKEN_COUNT must be between 1 and 20.", id="portal.E010")
        )
    if settings.UPKEEP_WARNING_FAILURES < 1 or settings.UPKEEP_WARNING_WINDOW_HOURS <= 0:
        problems.append(
            Error(
                "UPKEEP_WARNING_FAILURES must be 1 or more and UPKEEP_WARNING_WINDOW_HOURS "
                "more than 0.",
                id="portal.E011",
            )
        )
    return problems


@register()
def check_login_throttle(**kwargs: Any) -> list[CheckMessage]:
    """Trusted proxies must parse, and the log-in limits must let someone in at all."""
    problems: list[CheckMessage] = []
    try:
        # The same parse as accounts.client_address.trusted_proxies, which reads it per request.
        for entry in settings.TRUSTED_PROXIES:
            if entry.strip():
                ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        problems.append(
            Error("TRUSTED_PROXIES holds an entry that is not an IP or a CIDR.", id="portal.E012")
        )
    limits = (
        settings.LOGIN_FAILURES_PER_ACCOUNT,
        settings.LOGIN_FAILURES_PER_ADDRESS,
        settings.LOGIN_FAILURE_WINDOW_MINUTES,
    )
    if min(limits) < 1:
        problems.append(
            Error(
                "LOGIN_FAILURES_PER_ACCOUNT, LOGIN_FAILURES_PER_ADDRESS and "
                "LOGIN_FAILURE_WINDOW_MINUTES must be 1 or more.",
                id="portal.E013",
            )
        )
    return problems


# -- Production refuses development defaults (issue 15; deploy checks, DEBUG off) ------------

# What deploy/production.env.example writes in place of every secret.
PLACEHOLDER = "REPLACE_ME"
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}  # noqa: S104 (compared, never bound)


@register(deploy=True)
def check_production_defaults(**kwargs: Any) -> list[CheckMessage]:
    """With DEBUG off, every default that only suits development is an error (a mail backend
    that never sends is Django's own mail.E001; the sandbox is sandbox.E001)."""
    if settings.DEBUG:
        return []
    problems: list[CheckMessage] = []
    if not settings.DATABASE_URL:
        problems.append(
            Error(
                "DATABASE_URL is unset: the embedded PostgreSQL is for development and tests.",
                hint="Point DATABASE_URL at the production PostgreSQL (postgres://...).",
                id="portal.E020",
            )
        )
    problems += _addresses()
    if settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS:
        problems.append(
            Error(
                "WEBHOOKS_ALLOW_PRIVATE_NETWORKS is on: webhook URLs may reach private, loopback "
                "and link-local addresses (SSRF), over http too.",
                hint="Turn it off; it is for development and tests only.",
                id="portal.E030",
            )
        )
    if placeholders := _placeholders():
        problems.append(
            Error(
                f"Still the example's placeholder: {', '.join(placeholders)}.",
                hint="Put the real secret in the environment (it wins over ENV_FILE).",
                id="portal.E023",
            )
        )
    return problems


def _addresses() -> list[CheckMessage]:
    """The portal's own address must be public and https: emailed links and the callback."""
    problems: list[CheckMessage] = []
    for name in ("PORTAL_BASE_URL", "ZOHO_REDIRECT_URI"):
        url = urlsplit(getattr(settings, name))
        if url.scheme != "https" and name == "PORTAL_BASE_URL":
            problems.append(Error("PORTAL_BASE_URL must use https.", id="portal.E021"))
        if (url.hostname or "") in _LOOPBACK:
            problems.append(
                Error(
                    f"{name} points at this machine ({url.hostname}), the development default.",
                    hint="Use the portal's public https address.",
                    id="portal.E022",
                )
            )
    if settings.DEFAULT_FROM_EMAIL.rstrip(">").endswith("@localhost"):
        problems.append(
            Error(
                "DEFAULT_FROM_EMAIL is the development default (…@localhost).",
                id="portal.E024",
            )
        )
    return problems


def _placeholders() -> list[str]:
    """Names of the secrets that still hold the example's placeholder."""
    secrets = {
        "SECRET_KEY": settings.SECRET_KEY,
        "ZOHO_CLIENT_ID": settings.ZOHO_CLIENT_ID,
        "ZOHO_CLIENT_SECRET": settings.ZOHO_CLIENT_SECRET,
        "EMAIL_URL": str(settings.MAILERS["default"].get("OPTIONS", {}).get("password") or ""),
        "TOKEN_ENCRYPTION_KEYS": ",".join(settings.TOKEN_ENCRYPTION_KEYS),
        "DATABASE_URL": str(settings.DATABASES["default"].get("PASSWORD") or ""),
    }
    secrets |= {
        f"ZOHO_{dc.upper()}_CLIENT_SECRET": value
        for dc, value in settings.ZOHO_DC_CLIENT_SECRETS.items()
    }
    return [name for name, value in secrets.items() if PLACEHOLDER in value]


@register(deploy=True)
def check_static_files_are_hashed(**kwargs: Any) -> list[CheckMessage]:
    """Production serves hashed names that browsers may cache for a year (WhiteNoise)."""
    if settings.DEBUG or settings.STATICFILES_BACKEND == settings.HASHED_STATIC_STORAGE:
        return []
    return [
        Warning(
            "STATICFILES_BACKEND is not the hashed storage: browsers would keep stale "
            "stylesheets, or fetch them on every page.",
            hint="Unset STATICFILES_BACKEND in production (it is for the test suite).",
            id="portal.W020",
        )
    ]


@register()
def check_metrics_token(**kwargs: Any) -> list[CheckMessage]:
    """A METRICS_TOKEN, when set, must be long enough to be a secret (short ones open nothing)."""
    token = settings.METRICS_TOKEN
    if token and len(token) < 32:
        return [
            Error(
                "METRICS_TOKEN must be at least 32 characters (or unset: staff only).",
                hint="python -c 'import secrets; print(secrets.token_urlsafe(32))'",
                id="portal.E025",
            )
        ]
    return []


@register()
def check_api_hosts(**kwargs: Any) -> list[CheckMessage]:
    """Every API_HOSTS name must be an allowed host, or the API could never be reached there."""
    from django.http.request import validate_host

    unreachable = [
        name for name in settings.API_HOSTS if not validate_host(name, settings.ALLOWED_HOSTS)
    ]
    if unreachable:
        return [
            Error(
                f"API_HOSTS names hosts that ALLOWED_HOSTS does not: {', '.join(unreachable)}.",
                hint="Add them to ALLOWED_HOSTS, or empty API_HOSTS to serve /api/ on every host.",
                id="portal.E026",
            )
        ]
    return []


@register()
def check_required_scopes(**kwargs: Any) -> list[CheckMessage]:
    """A required scope that is never asked for would refuse every connection."""
    asked = {scope.lower() for scope in settings.ZOHO_SCOPES}
    unasked = [scope for scope in settings.ZOHO_REQUIRED_SCOPES if scope.lower() not in asked]
    if unasked:
        return [
            Error(
                f"ZOHO_REQUIRED_SCOPES names scopes ZOHO_SCOPES does not ask for: "
                f"{', '.join(unasked)}.",
                hint="Add them to ZOHO_SCOPES, or take them out of ZOHO_REQUIRED_SCOPES.",
                id="portal.E027",
            )
        ]
    return []
