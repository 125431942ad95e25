"""Finished background jobs are forgotten after their keeping time; waiting ones never."""

import pytest
from django.db import connection
from procrastinate.contrib.django.models import ProcrastinateJob

from portal.upkeep.job_retention import purge_finished_jobs
from tests.jobs import queued, run_jobs

pytestmark = pytest.mark.django_db(transaction=True)


def _defer(note: str) -> int:
    from accounts import outbox

    return outbox.send_later(kind=note, to=["a@example.com"], subject=note, text=note)


def _age(job_id: int, days: float) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_events SET at = now() - make_interval(secs => %s) "
            "WHERE job_id = %s",
            [days * 86400, job_id],
        )


def _set(job_id: int, status: str) -> None:
    ProcrastinateJob.objects.filter(pk=job_id).update(status=status)


def test_old_finished_jobs_go_recent_failed_and_waiting_ones_stay(settings, mailoutbox):
    settings.UPKEEP_JOBS_KEEP_DAYS = 7
    settings.UPKEEP_FAILED_JOBS_KEEP_DAYS = 30
    done_long_ago, done_lately = _defer("old"), _defer("new")
    run_jobs()
    failed_a_while_ago, failed_long_ago = _defer("f1"), _defer("f2")
    waiting = _defer("waiting")
    for job_id in (failed_a_while_ago, failed_long_ago):
        _set(job_id, "failed")
    _age(done_long_ago, 8)
    _age(done_lately, 6)
    _age(failed_a_while_ago, 8)  # failed jobs are kept longer
    _age(failed_long_ago, 31)
    _age(waiting, 60)  # waiting for ever is someone's problem, not the purge's

    assert purge_finished_jobs() == 2

    left = set(ProcrastinateJob.objects.values_list("id", flat=True))
    assert left == {done_lately, failed_a_while_ago, waiting}
    assert [job.id for job in queued()] == [waiting]
    assert purge_finished_jobs() == 0  # nothing more to do


def test_the_purge_is_a_periodic_task_on_the_purge_schedule(settings):
    from procrastinate.contrib.django import app

    from portal.upkeep.schedules import SCHEDULES

    assert SCHEDULES["portal.purge_finished_jobs"] == "UPKEEP_PURGE_SCHEDULE"
    assert "portal.purge_finished_jobs" in app.tasks
