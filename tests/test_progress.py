"""Long commands show their progress: tqdm's bar on a terminal, plain lines anywhere else.

Each command's own test file checks its plain lines; here the helper's rules, and one command
run under a pseudo-terminal, as an operator would run it.
"""

import os
import pty
import re
import select
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import OutputWrapper
from django.db import connection

from accounts.audit import record_event
from accounts.models import AuditEvent
from portal import crypto
from portal.management.progress import Bar, Stages

ROOT = Path(__file__).resolve().parent.parent


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def lines(out: StringIO) -> list[str]:
    return out.getvalue().splitlines()


def test_plain_lines_come_every_tenth_of_the_total_with_rate_and_time_left():
    out, clock = StringIO(), Clock()
    with Bar(
        OutputWrapper(out), label="verify_audit", unit="events", total=1000, clock=clock
    ) as bar:
        for _ in range(1000):
            clock.now += 0.001
            bar.advance()
    written = lines(out)
    assert len(written) == 10  # 10 %, 20 %, ... 90 %, then the summary (not "100 %")
    assert written[0] == "verify_audit: 100/1,000 events (10%), 1,000/s, about 0.9 s left"
    assert written[8] == "verify_audit: 900/1,000 events (90%), 1,000/s, about 0.1 s left"
    assert written[-1] == "verify_audit: 1,000 events in 1.0 s (1,000/s)"


def test_a_slow_walk_gets_a_line_every_interval_even_between_marks():
    out, clock = StringIO(), Clock()
    with Bar(
        OutputWrapper(out), label="check_grants", unit="grants", total=100, clock=clock
    ) as bar:
        for _ in range(4):
            clock.now += 4.0
            bar.advance()  # 1 % each: no mark crossed; a line once 10 s have passed
    assert lines(out) == [
        "check_grants: 3/100 grants (3%), 0.2/s, about 6 min left",
        "check_grants: 4 of 100 grants in 16 s (0.2/s)",
    ]


def test_an_unknown_total_gets_lines_by_time_only():
    out, clock = StringIO(), Clock()
    with Bar(OutputWrapper(out), label="import", unit="rows", total=None, clock=clock) as bar:
        for _ in range(30):
            clock.now += 1.0
            bar.advance(500)
    assert lines(out) == [
        "import: 5,000 rows, 500/s",
        "import: 10,000 rows, 500/s",
        "import: 15,000 rows, 500/s",
        "import: 15,000 rows in 30 s (500/s)",
    ]


def test_stages_draw_one_bar_each_and_sum_each_up():
    """A stage done in one call gets only its summary: a rate from a running line written
    microseconds after the bar began would be nonsense."""
    out, clock = StringIO(), Clock()
    with Stages(OutputWrapper(out), label="seed_demo_data", clock=clock) as progress:
        progress("users", 0, 2)
        clock.now += 1.0
        progress("users", 2, 2)
        progress("grants", 0, 0)
        progress("events", 5, 10)
        clock.now += 1.0
        progress("events", 10, 10)
    assert lines(out) == [
        "seed_demo_data: 2 users in 1.0 s (2.0/s)",
        "seed_demo_data: 0 grants in 0.0 s (0.0/s)",
        "seed_demo_data: 5/10 events (50%), 5,000,000,000/s, about 0.0 s left",
        "seed_demo_data: 10 events in 1.0 s (10/s)",
    ]


@pytest.mark.django_db
def test_rotate_token_keys_shows_progress_for_grants_then_held_tokens(settings, make_grant):
    """rotate_token_keys has no test file of its own (its rules are in tests/security): its
    progress, a line per grant here (each another 20 %, the fifth is the summary), then each
    stage's summary."""
    for number in range(5):
        make_grant(zoho_user_id=str(number))
    settings.TOKEN_ENCRYPTION_KEYS = [crypto.generate_key(), *settings.TOKEN_ENCRYPTION_KEYS]
    out, progress = StringIO(), StringIO()
    call_command("rotate_token_keys", stdout=out, stderr=progress)
    assert out.getvalue().startswith("grants: rotated: 5  already current: 0  unreadable: 0\n")
    written = lines(progress)
    assert [line.split(", ")[0] for line in written if "%)" in line] == [
        f"rotate_token_keys: {done}/5 grants ({done * 20}%)" for done in range(1, 5)
    ]
    assert [line.split(" in ")[0] for line in written if "%)" not in line] == [
        "rotate_token_keys: 5 grants",
        "rotate_token_keys: 0 held tokens",
        "rotate_token_keys: 0 webhook secrets",
    ]


@pytest.mark.django_db(transaction=True)
def test_on_a_terminal_verify_audit_draws_a_bar_with_rate_and_time_left():
    """Run as an operator would: ``manage.py verify_audit`` with a pseudo-terminal for stdout
    and stderr. tqdm redraws one line (``\\r``) with the percentage, rate and time left. The
    pseudo-terminal has no size (as under ``script`` or ``docker exec -t``): the bar takes 80
    columns rather than none."""
    for _ in range(20):
        record_event(action=AuditEvent.Action.CHECKED)
    script = (
        "import sys, django; from django.conf import settings;"
        "settings.DATABASES['default']['NAME'] = sys.argv[1]; django.setup();"
        "from django.core.management import call_command; call_command('verify_audit')"
    )
    leader, follower = pty.openpty()
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings"}
    process = subprocess.Popen(
        [sys.executable, "-c", script, connection.settings_dict["NAME"]],
        cwd=ROOT,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    screen = _read_all(leader, process).replace("\r\n", "\n")
    assert process.returncode == 0, screen
    assert re.search(
        r"verify_audit: 100%\|.*\| 20/20 \[\d\d:\d\d<00:00, +[\d.]+ events/s\]", screen
    )
    assert "\r" in screen  # redrawn in place, not line by line
    assert re.search(r"verify_audit: 20 events in [\d.]+ s", screen)
    assert "audit chain intact: 20 events checked" in screen


def _read_all(leader: int, process: subprocess.Popen[bytes]) -> str:
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            process.kill()
            break
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the follower side closed: the process has ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode()
