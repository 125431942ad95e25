"""Scale-out: two gunicorn servers and two Procrastinate workers against one PostgreSQL.

Every cross-process guarantee lives in the database, so it holds across processes: a session
made on one server works on the other, concurrent token calls on both servers share one
refresh, and each background job (sweeps, periodic ticks, mail) runs once whichever worker
takes it.
"""

import threading
from collections import Counter
from collections.abc import Iterator

import httpx2
import pytest
from procrastinate.contrib.django.models import ProcrastinateEvent, ProcrastinateJob

from accounts import outbox
from accounts.models import AuditEvent
from portal import tasks
from portal.api.keys import create_service_key
from portal.models import ZohoGrant
from portal.upkeep import sweeps
from tests.cast import EU, PASSWORD
from tests.connecting import expire, refreshes, wait_for
from tests.fake_smtp import FakeSMTP
from tests.portal_browser import PortalBrowser
from tests.scale_out import Process, environment, gunicorn_servers, procrastinate_workers

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 60.0  # seconds for anything to happen on a slow, shared machine


def log_in(base_url: str, email: str) -> dict[str, str]:
    """Sign in through one server's login form; returns the cookies it set."""
    with httpx2.Client(base_url=base_url, timeout=WAIT) as browser:
        browser.get("/accounts/login/")
        csrf = browser.cookies["csrftoken"]
        form = {"username": email, "password": PASSWORD, "csrfmiddlewaretoken": csrf}
        answer = browser.post("/accounts/login/", data=form)
        assert answer.status_code == 302, answer.text[:500]
        return dict(browser.cookies)


@pytest.fixture(scope="module")
def servers(django_db_setup, django_db_blocker, live_server) -> Iterator[list[Process]]:
    """Two gunicorn servers on the test database for this module's tests (the sandbox's
    address is the session's live server, so it does not change between tests)."""
    with django_db_blocker.unblock():
        env = environment(f"{live_server.url}/sandbox")
    with gunicorn_servers(env) as started:
        yield started


def test_a_session_made_on_one_server_works_on_the_other(servers, sandbox, alice):
    a, b = servers
    cookies = log_in(a.base_url, alice.email)
    with httpx2.Client(base_url=b.base_url, cookies=cookies, timeout=WAIT) as on_b:
        page = on_b.get("/connections/")
        assert page.status_code == 200 and alice.email in page.text
        logout = on_b.post("/accounts/logout/", data={"csrfmiddlewaretoken": cookies["csrftoken"]})
        assert logout.status_code == 302
    with httpx2.Client(base_url=a.base_url, cookies=cookies, timeout=WAIT) as on_a:
        after = on_a.get("/connections/")  # ended on B, so ended on A too
    assert after.status_code == 302 and "/accounts/login/" in after.headers["location"]


def test_concurrent_token_calls_on_both_servers_share_one_refresh(servers, sandbox, connected):
    expire(connected)
    sandbox.add_fault("latency", endpoint="refresh", seconds=1.0)  # callers pile up behind it
    _, key = create_service_key(name="backend")
    callers = 8
    answers: list[httpx2.Response] = []
    start = threading.Barrier(callers)

    def call(base_url: str) -> None:
        start.wait(timeout=WAIT)
        answers.append(
            httpx2.post(
                f"{base_url}/api/v1/grants/{connected.pk}/access-token",
                headers={"Authorization": f"Bearer {key}"},
                timeout=WAIT,
            )
        )

    threads = [
        threading.Thread(target=call, args=(servers[n % 2].base_url,)) for n in range(callers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT)
    assert [answer.status_code for answer in answers] == callers * [200]
    assert len({answer.json()["access_token"] for answer in answers}) == 1
    assert len(refreshes(sandbox)) == 1


def connect_owners(client, sandbox, make_user, count: int) -> list[ZohoGrant]:
    for n in range(count):
        client.force_login(make_user(f"owner{n}@example.com"))
        assert PortalBrowser(client, sandbox).connect(EU).status_code == 303
    return list(ZohoGrant.objects.all())


def test_two_workers_run_each_job_once(client, sandbox, make_user):
    grants = connect_owners(client, sandbox, make_user, 4)
    sweeps.make_all_due()
    mark = sandbox.requests()[-1]["id"]  # connecting called Desk too
    sandbox.add_fault("latency", endpoint="desk_organizations", seconds=0.3)  # sweeps overlap
    with FakeSMTP(hanging=False) as smtp:
        env = environment(
            sandbox.base_url,
            EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}?timeout=60",
            UPKEEP_BATCH_SIZE="1",  # claims interleave between the workers
            UPKEEP_ALERT_SCHEDULE="* * * * * */2",  # a periodic tick every 2 s
        )
        with procrastinate_workers(env):
            sweep_jobs = [
                tasks.check_due_grants.configure(queueing_lock=f"sweep-{n}").defer(timestamp=n)
                for n in range(4)
            ]
            mail_jobs = [
                outbox.send_later(kind="test", to=["a@example.com"], subject=f"m{n}", text="x")
                for n in range(6)
            ]
            ticks = ProcrastinateJob.objects.filter(task_name="portal.send_alerts")
            wait_for(
                lambda: (
                    ticks.filter(status="succeeded").count() >= 2
                    and not ProcrastinateJob.objects.filter(
                        pk__in=sweep_jobs + mail_jobs, status__in=("todo", "doing")
                    ).exists()
                ),
                seconds=WAIT,
            )
            ran_by = set(
                ProcrastinateJob.objects.filter(pk__in=sweep_jobs + mail_jobs).values_list(
                    "worker_id", flat=True
                )
            )
    jobs = ProcrastinateJob.objects.filter(pk__in=sweep_jobs + mail_jobs)
    assert set(jobs.values_list("status", flat=True)) == {"succeeded"}
    assert len(ran_by - {None}) == 2  # both workers took jobs
    # Each tick was deferred once (both workers' deferrers race for it) and every job ran once.
    timestamps = [job.args["timestamp"] for job in ticks]
    assert len(timestamps) == len(set(timestamps)) >= 2
    started = Counter(
        ProcrastinateEvent.objects.filter(type="started").values_list("job_id", flat=True)
    )
    assert set(started.values()) == {1} and len(started) >= len(sweep_jobs + mail_jobs) + 2
    # Each grant checked once: one audit outcome and one Desk call each, split by SKIP LOCKED.
    checked = Counter(
        AuditEvent.objects.filter(action="grant.checked").values_list("grant_id", flat=True)
    )
    assert checked == Counter({grant.pk: 1 for grant in grants})
    assert len(sandbox.requests(endpoint="desk_organizations", after=mark)) == len(grants)
    assert sorted(message["Subject"] for message in smtp.messages) == [f"m{n}" for n in range(6)]
