"""``make chaos`` (2): processes SIGKILLed mid-call, then recovery and a consistency check.

Each scenario is one function returning a :class:`KillRun`: a Procrastinate worker killed
mid-refresh and mid-revocation, a gunicorn worker killed mid-callback, and a worker killed
mid-delivery of mail. A Zoho call in flight is held open by sandbox latency on its endpoint
(the sandbox finishes it after the kill, as Zoho would); a mail by an SMTP server that hangs.
"""

import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from bench import servers
from bench.chaos_callback import kill_mid_callback
from bench.workers import start_worker

LATENCY = 6.0  # seconds the sandbox holds the call that is in flight at the kill
KILL_AFTER = 2.0  # seconds after the job starts (its Zoho call is waiting by then)
Say = Callable[[str], None]


@dataclass(frozen=True)
class Consistency:
    ok: bool
    text: str
    live_at_zoho: int
    held: int
    mismatched_users: int


@dataclass(frozen=True)
class KillRun:
    name: str
    story: str
    consistency: str
    live_at_zoho: int | str
    held: int | str
    passed: bool | None  # None: not run
    note: str = ""

    @property
    def verdict(self) -> str:
        return "NOT RUN" if self.passed is None else "**PASS**" if self.passed else "**MISS**"


def run_all(base: servers.Stack, say: Say) -> list[KillRun]:
    from portal.models import ZohoGrant

    grants = list(ZohoGrant.objects.order_by("zoho_user_id").values_list("pk", flat=True))
    return [
        mid_refresh(base, str(grants[0]), say),
        mid_revocation(base, str(grants[1]), say),
        mid_callback(base, say),
        mid_mail(base, say),
    ]


def mid_refresh(base: servers.Stack, grant_id: str, say: Say) -> KillRun:
    """A health-check sweep's refresh in flight when its worker dies."""
    from bench.fixtures import expire
    from portal import tasks
    from portal.grants.tokens import get_access_token
    from portal.models import ZohoGrant

    say("kill: a worker mid-refresh (a health check's refresh of an expired token)")
    rows = ZohoGrant.objects.count()
    _only_due(grant_id)
    expire(grant_id)
    zuid = ZohoGrant.objects.get(pk=grant_id).zoho_user_id
    base.control.add_fault("latency", endpoint="refresh", zuid=zuid, seconds=LATENCY, count=1)
    job = _kill_during(base, "refresh", lambda: tasks.check_due_grants.defer(timestamp=_now()))
    ZohoGrant.objects.filter(pk=grant_id).update(next_check_at=None)  # the claim's lease ends
    _recover(base, "refresh", tasks.check_due_grants)
    grant = ZohoGrant.objects.get(pk=grant_id)
    handed_out = _token_works(get_access_token, grant_id)
    state = _consistent(base, rows)
    story = (
        f"killed with the refresh at the sandbox; its job then {_status(job)}; grant "
        f"{grant.status}, "
        f"{'a token handed out afterwards' if handed_out else 'NO token afterwards'}"
    )
    ok = state.ok and grant.status == ZohoGrant.Status.ACTIVE and handed_out
    return _run("worker SIGKILLed mid-refresh", story, state, ok)


def mid_revocation(base: servers.Stack, grant_id: str, say: Say) -> KillRun:
    """A pending revocation (Zoho was down at first) being finished when its worker dies."""
    from portal import tasks
    from portal.grants.revocation import revoke_grant
    from portal.models import ZohoGrant

    say("kill: a worker mid-revocation (finishing a pending one)")
    rows = ZohoGrant.objects.count()
    base.control.add_fault("status", endpoint="revoke", status=503, count=1)
    first = revoke_grant(grant_id=UUID(grant_id), reason="chaos")
    ZohoGrant.objects.filter(pk=grant_id).update(retry_at=None)  # due at once
    base.control.add_fault("latency", endpoint="revoke", seconds=LATENCY, count=1)
    job = _kill_during(base, "revocation", lambda: tasks.finish_revocations.defer(timestamp=_now()))
    ZohoGrant.objects.filter(pk=grant_id).update(retry_at=None)  # the claim's lease ends
    _recover(base, "revocation", tasks.finish_revocations)
    grant = ZohoGrant.objects.get(pk=grant_id)
    state = _consistent(base, rows)
    story = (
        f"first attempt {first} (503), killed with the retry at the sandbox; its job then "
        f"{_status(job)}; grant {grant.status}"
    )
    ok = state.ok and grant.status == ZohoGrant.Status.REVOKED
    return _run("worker SIGKILLed mid-revocation", story, state, ok)


def mid_callback(base: servers.Stack, say: Say) -> KillRun:
    """The code exchange in flight when the gunicorn worker serving the callback dies."""
    from portal import tasks
    from portal.models import ZohoGrant

    say("kill: a gunicorn worker mid-callback (the code exchange at the sandbox)")
    rows = ZohoGrant.objects.count()
    outcome = kill_mid_callback(base, latency=LATENCY, kill_after=KILL_AFTER)
    time.sleep(LATENCY)  # the sandbox finishes the exchange it was holding
    for task in (tasks.revoke_orphaned_tokens, tasks.finish_revocations):
        task.defer(timestamp=_now())
    _recover(base, "callback", tasks.check_due_grants)
    state = _consistent(base, rows + outcome.connected)
    ok = state.ok and outcome.killed and outcome.reconnected
    return _run("gunicorn worker SIGKILLed mid-callback", outcome.story, state, ok, outcome.note)


def mid_mail(base: servers.Stack, say: Say) -> KillRun:
    """A worker killed while its mail job waits on a hung SMTP server (``accounts.outbox``)."""
    from accounts import outbox
    from portal.models import ZohoGrant
    from tests.fake_smtp import FakeSMTP

    say("kill: a worker mid-delivery of mail (the SMTP server hangs)")
    rows = ZohoGrant.objects.count()
    before = _consistent(base, rows)  # judged against this: earlier scenarios leave their marks
    with FakeSMTP(hanging=True) as smtp:
        env = {**base.env, "EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}?timeout=120"}
        job = _kill_during(
            base,
            "mail",
            lambda: outbox.send_later(
                kind="chaos", to=["owner@example.com"], subject="Chaos", text="Delivered."
            ),
            env=env,
            at_zoho=False,
        )
        smtp.release()  # the mail server answers again
        _recover(base, "mail", None, env=env)
        smtp.received.wait(60)
        delivered = len(smtp.messages)
    state = _consistent(base, rows)
    story = (
        f"killed while the mail job waited for the server's greeting; its job then "
        f"{_status(job)}; {delivered} message(s) delivered (at least once is the promise)"
    )
    ok = delivered >= 1 and _status(job) == "succeeded" and state.text == before.text
    return _run("worker SIGKILLed mid-delivery of mail", story, state, ok)


# -- the steps every worker scenario shares ------------------------------------------------


def _kill_during(
    base: servers.Stack,
    label: str,
    defer: Callable[[], int],
    *,
    env: dict[str, str] | None = None,
    at_zoho: bool = True,
) -> int:
    """Start a worker, defer the job, SIGKILL the worker while the job's call waits (at the
    sandbox, ``at_zoho``, or elsewhere)."""
    from procrastinate.contrib.django.models import ProcrastinateJob

    worker = start_worker(env or base.env, f"chaos-worker-{label}")
    try:
        job_id = defer()
        _wait_for(
            lambda: ProcrastinateJob.objects.get(pk=job_id).status == "doing",
            f"the {label} job to start",
            alive=worker,
        )
        time.sleep(KILL_AFTER)
        os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.wait()
    finally:
        worker.stop()
    if at_zoho:
        time.sleep(LATENCY)  # the sandbox finishes the call it was holding, as Zoho would
    return job_id


def _recover(
    base: servers.Stack, label: str, task: Any, *, env: dict[str, str] | None = None
) -> None:
    """A new worker; once the dead one's heartbeat is stale, retry its stalled jobs and run
    ``task`` (a periodic one, if any) once more; wait until no job is left to do."""
    from django.conf import settings
    from procrastinate import exceptions
    from procrastinate.contrib.django.models import ProcrastinateJob

    from portal import tasks

    time.sleep(float(settings.UPKEEP_STALLED_AFTER_SECONDS) + 1)
    worker = start_worker(env or base.env, f"chaos-rescuer-{label}")
    busy = ProcrastinateJob.objects.filter(status__in=["todo", "doing"])
    try:
        for job in (tasks.retry_stalled_jobs, *([task] if task else [])):  # stalled job first
            try:
                job.defer(timestamp=_now())
            except exceptions.AlreadyEnqueued:
                pass  # one already waits: it does the same work
            _wait_for(lambda: not busy.exists(), f"the jobs after the {label} kill", alive=worker)
    finally:
        worker.stop()


def _status(job_id: int) -> str:
    """A killed job's end: run again by ``retry_stalled_jobs`` (succeeded), or closed as failed
    because the same sweep was queued already and did the work."""
    from procrastinate.contrib.django.models import ProcrastinateJob

    return str(ProcrastinateJob.objects.get(pk=job_id).status)


def _only_due(grant_id: str) -> None:
    """Only ``grant_id``'s health check is due (the sweep reaches it first and alone)."""
    from datetime import timedelta

    from django.utils import timezone

    from portal.models import ZohoGrant

    later = timezone.now() + timedelta(days=1)
    ZohoGrant.objects.exclude(pk=grant_id).update(next_check_at=later)
    ZohoGrant.objects.filter(pk=grant_id).update(next_check_at=timezone.now())


def _token_works(get_access_token: Callable[..., Any], grant_id: str) -> bool:
    from portal.grants.tokens import GrantError

    try:
        get_access_token(grant_id=grant_id)
    except GrantError:
        return False
    return True


def _consistent(base: servers.Stack, expected_rows: int) -> Consistency:
    """No row lost, no grant left revoking, no job left doing, no held token unrevoked, and
    the refresh tokens live at the sandbox for each Zoho user equal to those the portal holds."""
    from django.conf import settings
    from procrastinate.contrib.django.models import ProcrastinateJob

    from portal.models import OrphanedToken, ZohoGrant

    rows = ZohoGrant.objects.count()
    revoking = ZohoGrant.objects.filter(status=ZohoGrant.Status.REVOKING).count()
    busy = ProcrastinateJob.objects.filter(status__in=["todo", "doing"]).count()
    orphans = OrphanedToken.objects.count()
    held = Counter(
        ZohoGrant.objects.filter(refresh_token_encrypted__isnull=False).values_list(
            "zoho_user_id", flat=True
        )
    )
    live = Counter(
        str(g["zuid"])
        for g in base.control.grants(client_id=settings.ZOHO_CLIENT_ID)
        if g["active"]
    )
    mismatched = sum(1 for zuid in set(held) | set(live) if held[zuid] != live[zuid])
    ok = rows == expected_rows and revoking == busy == orphans == mismatched == 0
    text = (
        f"{rows} rows (expected {expected_rows}), {revoking} revoking, {busy} jobs left, "
        f"{orphans} held tokens unrevoked, {mismatched} Zoho users with a mismatch"
    )
    return Consistency(ok, text, sum(live.values()), sum(held.values()) + orphans, mismatched)


def _run(name: str, story: str, state: Consistency, ok: bool, note: str = "") -> KillRun:
    return KillRun(name, story, state.text, state.live_at_zoho, state.held, ok, note)


def _wait_for(
    condition: Callable[[], bool], what: str, *, alive: servers.Service, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if alive.process.poll() is not None:
            raise RuntimeError(f"{alive.name} exited while waiting for {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _now() -> int:
    return int(time.time())
