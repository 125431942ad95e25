"""deploy/: the systemd units verify and are hardened; gunicorn's configuration follows the
environment (timeouts from the Zoho timeout, trusted proxies, workers from the CPU count).

The portal served by that configuration is tested in tests/security/test_production_profile.py.
"""

import os
import runpy
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.production import ROOT

UNITS = ROOT / "deploy" / "systemd"
INSTALLED_AT = "/srv/desk-connect"  # the checkout's path in the units, as the runbook installs it
HARDENING = {
    "NoNewPrivileges": "yes",
    "PrivateTmp": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateDevices": "yes",
    "CapabilityBoundingSet": "",
}


def unit_files() -> list[Path]:
    return sorted(UNITS.glob("*.service"))


def directives(unit: Path) -> dict[str, str]:
    lines = [line for line in unit.read_text().splitlines() if "=" in line and line[0] != "#"]
    return dict(line.split("=", 1) for line in lines)


def test_there_is_a_web_unit_and_a_worker_template():
    assert [unit.name for unit in unit_files()] == [
        "desk-connect-web.service",
        "desk-connect-worker@.service",
    ]


@pytest.mark.parametrize("unit", unit_files(), ids=lambda unit: unit.name)
def test_units_pass_systemd_analyze_verify(unit: Path, tmp_path: Path):
    """Rendered with this checkout's path (ExecStart must exist for verify), each unit loads
    with no error and no warning about it."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
    rendered = tmp_path / unit.name
    rendered.write_text(unit.read_text().replace(INSTALLED_AT, str(ROOT)))
    result = subprocess.run(
        [analyze, "verify", str(rendered)], capture_output=True, text=True, timeout=60
    )
    complaints = [line for line in result.stderr.splitlines() if "desk-connect" in line]
    assert result.returncode == 0, result.stderr
    assert complaints == []


@pytest.mark.parametrize("unit", unit_files(), ids=lambda unit: unit.name)
def test_units_are_hardened_and_read_settings_and_secrets_apart(unit: Path):
    found = directives(unit)
    assert {name: found.get(name) for name in HARDENING} == HARDENING
    assert "ReadWritePaths" not in found  # the file system is read-only but for a private /tmp
    assert found["User"] == "deskconnect"
    assert found["Environment"] == "ENV_FILE=/etc/desk-connect/production.env"
    assert found["EnvironmentFile"] == "/etc/desk-connect/secrets.env"


def test_the_web_unit_reloads_gracefully_with_gunicorns_configuration():
    found = directives(UNITS / "desk-connect-web.service")
    assert found["ExecStart"].endswith("gunicorn -c deploy/gunicorn.conf.py portal.wsgi")
    assert found["ExecReload"] == "/bin/kill -s HUP $MAINPID"
    config = gunicorn_config(ZOHO_HTTP_TIMEOUT="10")
    assert int(found["TimeoutStopSec"]) > config["graceful_timeout"]


def gunicorn_config(**environment: str) -> dict:
    """deploy/gunicorn.conf.py's values as gunicorn reads them, in a given environment."""
    saved = dict(os.environ)
    os.environ.update({"ENV_FILE": "", **environment})
    try:
        return runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_gunicorn_timeouts_exceed_the_longest_zoho_call_plus_the_lock_wait():
    for seconds in (10, 30):
        config = gunicorn_config(ZOHO_HTTP_TIMEOUT=str(seconds))
        zoho_call = seconds + 2  # each phase, plus 2 s for the whole body (portal/zoho/http.py)
        lock_wait = seconds + 5  # lock_timeout (portal/grants/tokens.py)
        assert config["timeout"] > zoho_call + lock_wait
        assert config["graceful_timeout"] >= config["timeout"]


def test_gunicorn_trusts_forwarded_headers_only_from_trusted_proxies():
    assert gunicorn_config(TRUSTED_PROXIES="")["forwarded_allow_ips"] == ""
    config = gunicorn_config(TRUSTED_PROXIES="10.0.0.0/8, ::1")
    assert config["forwarded_allow_ips"] == "10.0.0.0/8,::1/128"


def test_gunicorn_runs_one_gthread_worker_per_cpu_unless_told_otherwise(monkeypatch):
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    config = gunicorn_config()
    assert config["worker_class"] == "gthread"
    assert config["workers"] == config["CPUS"] == len(os.sched_getaffinity(0))
    assert config["threads"] == 4
    assert gunicorn_config(WEB_CONCURRENCY="3", GUNICORN_THREADS="8")["workers"] == 3
    assert gunicorn_config(GUNICORN_WORKER_CLASS="sync")["worker_class"] == "sync"


def test_gunicorns_own_log_lines_are_json_and_redacted_when_the_app_logs_json():
    json_config = gunicorn_config(LOG_FORMAT="json")["logconfig_dict"]
    handler = json_config["handlers"]["error_console"]
    assert json_config["formatters"][handler["formatter"]] == {
        "()": "portal.observe.json_logs.JsonFormatter"
    }
    assert "redact_secrets" in handler["filters"]
    text_config = gunicorn_config(LOG_FORMAT="text")["logconfig_dict"]
    assert text_config["handlers"]["error_console"]["formatter"] == "text"
    assert gunicorn_config()["logger_class"] == "portal.observe.access_log.AccessLogger"


def test_each_gunicorn_run_starts_with_empty_metrics_counts(tmp_path, monkeypatch):
    """The web unit gives gunicorn a private PROMETHEUS_MULTIPROC_DIR; gunicorn empties it before
    the first worker starts, so an earlier run's request counts are not added to this run's."""
    unit = (ROOT / "deploy" / "systemd" / "desk-connect-web.service").read_text()
    assert "RuntimeDirectory=desk-connect" in unit
    assert "Environment=PROMETHEUS_MULTIPROC_DIR=/run/desk-connect/metrics" in unit
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_1234.db").write_bytes(b"an earlier run's counts")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    config = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    config["on_starting"](None)
    assert directory.is_dir() and list(directory.iterdir()) == []
