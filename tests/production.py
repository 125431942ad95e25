"""The portal as production runs it: configured only from deploy/production.env.example plus
freshly generated secrets, started under ``gunicorn -c deploy/gunicorn.conf.py``.

Nothing of the suite's own environment is passed on (no sandbox, no test keys, no
``PYTEST_VERSION``), so what these processes see is what a clean clone on a server would see.
"""

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import httpx2
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "deploy" / "production.env.example"
HOST = "portal.example.com"  # the example's ALLOWED_HOSTS


def database_url_of_this_run() -> str:
    """A ``DATABASE_URL`` for this run's test database. For a Unix socket django-environ takes
    the directory from the path: ``postgres://user@:port/<%-encoded directory>/<name>``."""
    database = settings.DATABASES["default"]
    user = quote(database["USER"] or "", safe="")
    password = f":{quote(database['PASSWORD'], safe='')}" if database.get("PASSWORD") else ""
    port = f":{database['PORT']}" if database.get("PORT") else ""
    host = str(database["HOST"] or "")
    if host.startswith("/"):  # a Unix-socket directory (the embedded server)
        return f"postgres://{user}{password}@{port}/{quote(host, safe='')}/{database['NAME']}"
    return f"postgres://{user}{password}@{host}{port}/{database['NAME']}"


def production_environment(**overrides: str) -> dict[str, str]:
    """The example file as ENV_FILE, and the secrets it leaves as placeholders, generated."""
    from cryptography.fernet import Fernet

    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    env |= {
        "ENV_FILE": str(EXAMPLE),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ZOHO_CLIENT_ID": f"1000.{secrets.token_hex(15).upper()}",
        "ZOHO_CLIENT_SECRET": secrets.token_hex(21),
        "EMAIL_URL": f"smtp+tls://deskconnect:{secrets.token_urlsafe(16)}@smtp.example.com:587",
        "DATABASE_URL": database_url_of_this_run(),
    }
    return env | overrides


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Gunicorn:
    """A running ``gunicorn -c deploy/gunicorn.conf.py portal.wsgi`` and what it logged."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process = process
        self.base_url = f"http://127.0.0.1:{port}"
        self.log = log

    def get(
        self, path: str, *, via: str = "127.0.0.1", https: bool = False, cookie: str = ""
    ) -> httpx2.Response:
        """GET ``path`` from the source address ``via``, as a proxy that terminated TLS would
        (``https``: with ``X-Forwarded-Proto: https``), passing ``cookie`` on."""
        headers = {"Host": HOST, "Accept-Encoding": "gzip"}
        if https:
            headers["X-Forwarded-Proto"] = "https"
        if cookie:
            headers["Cookie"] = cookie
        transport = httpx2.HTTPTransport(local_address=via)
        with httpx2.Client(transport=transport, timeout=30, follow_redirects=False) as client:
            return client.get(f"{self.base_url}{path}", headers=headers)


@contextmanager
def gunicorn(env: dict[str, str], log: Path) -> Iterator[Gunicorn]:
    """Start gunicorn with the deploy configuration on a free loopback port; stop it after."""
    port = free_port()
    env = env | {"GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1"}
    argv = [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "portal.wsgi"]
    with log.open("w") as out:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Gunicorn(process, port, log)
    try:
        _wait_ready(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(server: Gunicorn, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited early:\n{server.log.read_text()}")
        try:
            if server.get("/healthz").status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer /healthz:\n{server.log.read_text()}")
