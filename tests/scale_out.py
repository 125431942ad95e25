"""Two of everything against the test database: gunicorn servers and Procrastinate workers,
started as real processes with the sandbox (the live server) as Zoho, and stopped again."""

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import quote

import httpx2
from django.db import connection

from bench.servers import free_port
from bench.workers import worker_environment

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
START_SECONDS = 60.0  # a slow, shared machine may take long to import Django


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    output: IO[bytes]  # a file, not a pipe: nobody reads it while the process runs
    base_url: str = ""

    def failure(self) -> str:
        """What the process said, for an assertion message."""
        self.output.seek(0)
        said = self.output.read()[-3000:].decode(errors="replace")
        return f"{self.name} exited with {self.popen.poll()}:\n{said}"


def database_url() -> str:
    """A ``DATABASE_URL`` for the test database this process uses (django-environ reads a
    Unix-socket directory from the %-encoded path's first segment)."""
    db = connection.settings_dict
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    port = f":{db['PORT']}" if db["PORT"] else ""
    host = db["HOST"] or ""
    if host.startswith("/"):
        return f"postgres://{user}{password}@{port}/{quote(host, safe='')}/{db['NAME']}"
    return f"postgres://{user}{password}@{host}{port}/{db['NAME']}"


def environment(sandbox_base_url: str, **overrides: str) -> dict[str, str]:
    """The test's own environment (keys, client id) on the test database, production-like as
    the bench's workers run (DEBUG off, no sandbox app, every data centre pointed at the
    sandbox's server), periodic upkeep off unless overridden."""
    env = {name: value for name, value in os.environ.items() if name != "PYTEST_VERSION"}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DATABASE_URL": database_url(),
            "DEBUG": "0",
            "SECURE_COOKIES": "0",  # plain HTTP on loopback
            "SANDBOX_BASE_URL": sandbox_base_url,
            "ZOHO_HTTP_TIMEOUT": "10",
            "EMAIL_URL": "consolemail://",
            "LOG_LEVEL": "WARNING",
            "UPKEEP_CHECK_SCHEDULE": "",
            "UPKEEP_REVOKE_SCHEDULE": "",
            "UPKEEP_PURGE_SCHEDULE": "",
            "UPKEEP_ALERT_SCHEDULE": "",
            "UPKEEP_STALLED_JOBS_SCHEDULE": "",
        }
    )
    env.update(overrides)
    return worker_environment(env)


def _spawn(name: str, argv: list[str], env: dict[str, str], base_url: str = "") -> Process:
    output = tempfile.TemporaryFile()  # noqa: SIM115 (closed by _stop)
    popen = subprocess.Popen(  # noqa: S603 (fixed argv)
        argv, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
    )
    return Process(name, popen, output, base_url)


def _stop(processes: list[Process]) -> None:
    """Ask every process to stop at once (gunicorn and Procrastinate both finish their work
    on TERM), then wait for each."""
    for process in processes:
        if process.popen.poll() is None:
            process.popen.terminate()
    for process in processes:
        try:
            process.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.popen.kill()
            process.popen.wait()
        process.output.close()


@contextmanager
def gunicorn_servers(env: dict[str, str], count: int = 2) -> Iterator[list[Process]]:
    """``count`` gunicorn servers (2 gthread workers of 4 threads each, as production runs
    them), each on a free loopback port, answering ``/api/v1/ping`` before this yields."""
    servers = []
    for n in range(count):
        port = free_port()
        argv = [sys.executable, "-m", "gunicorn", "portal.wsgi", "--bind", f"{LOOPBACK}:{port}"]
        argv += ["--workers", "2", "--worker-class", "gthread", "--threads", "4"]
        servers.append(_spawn(f"web-{n}", argv, env, f"http://{LOOPBACK}:{port}"))
    try:
        for server in servers:
            _wait_until_answering(server)
        yield servers
    finally:
        _stop(servers)


def _wait_until_answering(server: Process) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        assert server.popen.poll() is None, server.failure()
        try:
            if httpx2.get(f"{server.base_url}/api/v1/ping", timeout=5).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{server.name} did not answer in {START_SECONDS:.0f} s")


@contextmanager
def procrastinate_workers(env: dict[str, str], count: int = 2) -> Iterator[list[Process]]:
    """``count`` long-running ``procrastinate worker`` processes, each registered in
    ``procrastinate_workers`` (and so listening for jobs) before this yields."""
    from procrastinate.contrib.django.models import ProcrastinateWorker

    before = ProcrastinateWorker.objects.count()
    argv = [sys.executable, "manage.py", "procrastinate", "worker"]
    workers = [_spawn(f"worker-{n}", [*argv, "--name", f"worker-{n}"], env) for n in range(count)]
    try:
        deadline = time.monotonic() + START_SECONDS
        while ProcrastinateWorker.objects.count() < before + count:
            for worker in workers:
                assert worker.popen.poll() is None, worker.failure()
            assert time.monotonic() < deadline, "the workers did not start in time"
            time.sleep(0.2)
        yield workers
    finally:
        _stop(workers)
