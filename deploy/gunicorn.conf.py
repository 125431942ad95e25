"""gunicorn's configuration for the portal: ``gunicorn -c deploy/gunicorn.conf.py portal.wsgi``.

It reads the same environment as the portal (``ENV_FILE``, then the process environment, which
wins) and nothing of Django's, so the master process stays small and a reload (SIGHUP) starts
workers on whatever code and settings are on disk then.
"""

import ipaddress
import math
import os
from pathlib import Path
from typing import Any

import environ

env = environ.Env()
_ENV_FILE = env.str("ENV_FILE", default=str(Path(__file__).resolve().parent.parent / ".env"))
if _ENV_FILE and Path(_ENV_FILE).is_file():
    env.read_env(_ENV_FILE)  # sets only what the environment does not already hold

bind = env.list("GUNICORN_BIND", default=["127.0.0.1:8000"])

# Workers and threads, from bench/RESULTS.md ("Token API benchmark", 2 cores, 2 workers, quiet
# machine): the hot path ran at 1,465 requests/s with `sync` workers and 1,193/s with `gthread`
# workers of 4 threads, and in both the busiest worker had 50 % of the workers' CPU: one process
# per core already keeps every core busy, so more processes buy no throughput, only ~76 MiB of
# memory each (peak RSS per worker). What extra concurrency buys is room to wait: a refresh or a
# connect holds its worker for as long as Zoho takes (up to `timeout` below), and with `sync`
# workers two slow Zoho calls would stall a two-core server. gthread's 4 threads give each
# process 4 such waiting slots for about 20 % less peak throughput on cached tokens and no extra
# memory. Hence one gthread worker per CPU this process may run on, 4 threads each;
# GUNICORN_WORKER_CLASS=sync (with WEB_CONCURRENCY 2-4 per core), WEB_CONCURRENCY and
# GUNICORN_THREADS override.
worker_class = env.str("GUNICORN_WORKER_CLASS", default="gthread")
# The CPUs this process may run on (its affinity; Python 3.13's process_cpu_count, else all).
CPUS = getattr(os, "process_cpu_count", os.cpu_count)() or 1
workers = env.int("WEB_CONCURRENCY", default=CPUS)
threads = env.int("GUNICORN_THREADS", default=4)

# The longest request waits for another caller's refresh (lock_timeout: ZOHO_HTTP_TIMEOUT + 5 s,
# portal/grants/tokens.py) and then makes its own Zoho call (each phase ZOHO_HTTP_TIMEOUT, the
# whole body 2 s more, portal/zoho/http.py). A worker is given that plus 5 s before it counts
# as hung, and as long again to finish in-flight requests on a reload or a stop.
_ZOHO_SECONDS = env.float("ZOHO_HTTP_TIMEOUT", default=10.0)
LONGEST_REQUEST_SECONDS = (_ZOHO_SECONDS + 5.0) + (_ZOHO_SECONDS + 2.0)
timeout = math.ceil(LONGEST_REQUEST_SECONDS) + 5
graceful_timeout = timeout
keepalive = 5  # the proxy reuses its connections; idle ones close after 5 s

# The proxies whose X-Forwarded-Proto gunicorn believes: the portal's TRUSTED_PROXIES, the same
# list that decides the client's address and turns SECURE_PROXY_SSL_HEADER on.
_PROXIES = [entry.strip() for entry in env.list("TRUSTED_PROXIES", default=[]) if entry.strip()]
_NETWORKS = [ipaddress.ip_network(entry, strict=False) for entry in _PROXIES]
forwarded_allow_ips = ",".join(str(network) for network in _NETWORKS)  # "": nobody


def pre_request(worker: Any, req: Any) -> None:
    """Drop X-Forwarded-Proto from a peer that is not a trusted proxy.

    gunicorn already ignores it for the request's scheme, but passes it on to Django, which
    reads it under SECURE_PROXY_SSL_HEADER: a client talking to gunicorn directly could
    otherwise claim https on a plain-http connection.
    """
    peer = req.peer_addr
    if not isinstance(peer, tuple):
        return  # a Unix socket: only the proxy on this machine can reach it
    try:
        address = ipaddress.ip_address(peer[0])
    except ValueError:
        address = None
    if address is not None and any(address in network for network in _NETWORKS):
        return
    req.headers = [(name, value) for name, value in req.headers if name != "X-FORWARDED-PROTO"]


# The access log goes through the portal's own logging (the root logger Django configures in
# each worker): the same handler, format and secret-redacting filter as every app log line.
# The request line keeps its query string for the filter to redact (`code=[redacted]`).
# gunicorn's own lines (start, workers booting and exiting, "Error handling request <uri>")
# are written by the master too, before any Django exists: they get the same redaction and, with
# LOG_FORMAT=json, the same JSON formatter (neither needs Django's settings).
logger_class = "portal.observe.access_log.AccessLogger"  # %(h)s: the client, not the proxy
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
_LOG_FORMAT = env.str("LOG_FORMAT", default="text")
from portal.observe.json_logs import LOG_FILTERS, LOG_FORMATTERS  # noqa: E402  (no Django needed)

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": LOG_FILTERS,
    "formatters": LOG_FORMATTERS,
    "handlers": {
        "error_console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "filters": ["redact_secrets", "request_id"],
            "formatter": "json" if _LOG_FORMAT == "json" else "text",
        },
    },
    "root": {"level": "INFO", "handlers": []},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": True},
    },
}


def on_starting(server: Any) -> None:
    """Start every run with an empty PROMETHEUS_MULTIPROC_DIR: counts of an earlier run's
    processes would otherwise be added to this run's (prometheus_client's multiprocess mode)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    """A worker that exited keeps its counts, but its live gauges are dropped."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


# Reloads and stops come from systemd as signals (HUP, TERM); no control socket is written.
control_socket_disable = True
