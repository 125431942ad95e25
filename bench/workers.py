"""Procrastinate worker processes of a benchmark run, started as ``make run`` starts one."""

import sys

from bench.servers import Service, start

# The workers run only the jobs a bench defers: every periodic task is off.
QUIET_SCHEDULES = {
    name: ""
    for name in (
        "UPKEEP_CHECK_SCHEDULE",
        "UPKEEP_REVOKE_SCHEDULE",
        "UPKEEP_PURGE_SCHEDULE",
        "UPKEEP_ALERT_SCHEDULE",
        "UPKEEP_STALLED_JOBS_SCHEDULE",
    )
}

DATA_CENTRES = ["us", "eu", "in", "au", "jp", "cn", "ca", "sa", "uk"]


def start_worker(env: dict[str, str], name: str, *, concurrency: int = 0) -> Service:
    """``manage.py procrastinate worker``, as ``make run`` starts it (optionally with a
    concurrency), in a production-like environment (:func:`worker_environment`)."""
    argv = [sys.executable, "manage.py", "procrastinate", "worker", "--name", name]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    return start(name, argv, worker_environment(env), 0)


def worker_environment(env: dict[str, str]) -> dict[str, str]:
    """A production-like worker: ``DEBUG`` off and no sandbox app (its system check refuses
    that pair), each data centre pointed at the sandbox's server as at any Zoho-compatible
    server, through ``ZOHO_<DC>_ACCOUNTS_URL`` / ``ZOHO_<DC>_DESK_URL``."""
    sandbox = env["SANDBOX_BASE_URL"].rstrip("/")
    worker = {**env, "SANDBOX_ENABLED": "0"}
    for dc in DATA_CENTRES:
        worker[f"ZOHO_{dc.upper()}_ACCOUNTS_URL"] = f"{sandbox}/{dc}/accounts"
        worker[f"ZOHO_{dc.upper()}_DESK_URL"] = f"{sandbox}/{dc}/desk"
    return worker
