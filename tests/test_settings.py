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
