"""Start-up refuses settings that would be unsafe in production."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def start_django(**overrides: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings", **overrides}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("secret", ["", "change-me", "short-key"])
def test_start_up_refuses_missing_or_weak_secret_key_with_debug_off(secret):
    result = start_django(DEBUG="0", SECRET_KEY=secret)
    assert result.returncode != 0
    assert "SECRET_KEY is missing or too weak" in result.stderr


def test_start_up_accepts_missing_secret_key_in_debug():
    assert start_django(DEBUG="1", SECRET_KEY="").returncode == 0


def test_start_up_refuses_a_database_that_is_not_postgres():
    result = start_django(DATABASE_URL="sqlite:///tmp/x.sqlite3")
    assert result.returncode != 0
    assert "PostgreSQL" in result.stderr


def database_options(**overrides: str) -> str:
    script = (
        "import django; django.setup(); from django.conf import settings;"
        "db = settings.DATABASES['default'];"
        "print(db.get('DISABLE_SERVER_SIDE_CURSORS', False), db['OPTIONS']['prepare_threshold'])"
    )
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings", **overrides}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


def test_behind_pgbouncer_transaction_pooling_cursors_and_prepared_statements_can_be_off():
    """Server-side cursors and prepared statements break under PgBouncer's transaction
    pooling (before 1.21); each has a switch, and both stay on by default."""
    assert database_options() == "False 5"
    pooled = database_options(DATABASE_TRANSACTION_POOLING="1", DATABASE_PREPARED_STATEMENTS="0")
    assert pooled == "True None"


@pytest.mark.parametrize(
    ("keys", "message"),
    [("", "TOKEN_ENCRYPTION_KEYS is empty"), ("not-a-key", "not a Fernet key")],
)
def test_start_up_refuses_missing_or_malformed_token_keys_with_debug_off(keys, message):
    result = start_django(DEBUG="0", TOKEN_ENCRYPTION_KEYS=keys)
    assert result.returncode != 0
    assert message in result.stderr


def test_start_up_refuses_the_secret_key_as_token_key():
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    result = start_django(
        DEBUG="0", SECRET_KEY=key + "-padding-to-be-long", TOKEN_ENCRYPTION_KEYS=key
    )
    assert result.returncode == 0  # different values are fine
    result = start_django(DEBUG="0", SECRET_KEY=key, TOKEN_ENCRYPTION_KEYS=key)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_checks_flag_bad_keys_and_plain_http_zoho(settings):
    from portal import checks

    settings.TOKEN_ENCRYPTION_KEYS = ["nope"]
    assert [m.id for m in checks.check_token_keys()] == ["portal.E002"]
    settings.DEBUG = False
    ids = {m.id for m in checks.check_https_to_zoho()}
    assert ids == {"portal.E004", "portal.E005"}  # the sandbox and redirect URI are http
    settings.SANDBOX_ENABLED = False
    settings.ZOHO_REDIRECT_URI = "https://portal.example/connections/callback/"
    assert checks.check_https_to_zoho() == []
