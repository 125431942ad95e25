"""Issue 14 item 7 (first part): a hung mail server cannot stall whoever sends mail.

The server here accepts the TCP connection and never says a word, as a hung SMTP server does.
Without a timeout smtplib waits for its greeting forever; the subprocess's own 60 s limit
would then fail this test.
"""

import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.test_settings import ROOT

SEND = (
    "import django; django.setup(); "
    "from django.conf import settings; print('timeout', settings.MAILERS['default']['OPTIONS']"
    "['timeout'], flush=True); "
    "from django.core.mail import send_mail; "
    "send_mail('s', 'b', 'from@example.com', ['to@example.com'])"
)


@pytest.fixture
def silent_smtp_port() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(5)  # connections complete in the backlog; nobody ever answers
        yield server.getsockname()[1]


def _send(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-c", SEND],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_sending_to_a_silent_smtp_server_gives_up_after_emails_timeout(
    silent_smtp_port: int,
) -> None:
    result = _send({"EMAIL_URL": f"smtp://127.0.0.1:{silent_smtp_port}?timeout=1"})
    assert "timeout 1" in result.stdout
    assert result.returncode != 0
    assert "timed out" in result.stderr


def test_smtp_has_a_timeout_even_when_email_url_names_none(silent_smtp_port: int) -> None:
    result = _send(
        {"EMAIL_URL": f"smtp://127.0.0.1:{silent_smtp_port}", "EMAIL_TIMEOUT_SECONDS": "1.5"}
    )
    assert "timeout 1.5" in result.stdout
    assert result.returncode != 0
    assert "timed out" in result.stderr
