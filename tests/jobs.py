"""Run queued Procrastinate jobs inside a test, on the test's own database connection.

A real worker (tests/test_worker.py starts one as a subprocess) opens its own connections,
so it cannot see rows a non-transactional test has not committed. ``run_jobs`` does what a
worker does with each queued job, in this process and this transaction: it calls the task's
function with the job's arguments and marks the job succeeded, or failed when the function
raised (the exception is re-raised unless ``raise_errors=False``). Jobs a task defers while it
runs are run too, until the queue holds no runnable job of the names asked for.
"""

from collections.abc import Iterable
from types import SimpleNamespace

from django.db import connection
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob

from accounts.request_id import bind_for_job

MAX_ROUNDS = 1000  # a task that keeps deferring itself is a bug, not an endless test


def queued(*task_names: str) -> list[ProcrastinateJob]:
    """Jobs waiting to run (all tasks when no name is given), oldest first."""
    jobs = ProcrastinateJob.objects.filter(status="todo").order_by("id")
    if task_names:
        jobs = jobs.filter(task_name__in=task_names)
    return list(jobs)


def run_jobs(*task_names: str, raise_errors: bool = True) -> list[ProcrastinateJob]:
    """Run every queued job of these tasks (all tasks when none is named); return those run."""
    done: list[ProcrastinateJob] = []
    for _ in range(MAX_ROUNDS):
        batch = queued(*task_names)
        if not batch:
            return done
        for job in batch:
            _run(job, raise_errors=raise_errors)
            done.append(job)
    raise AssertionError(f"jobs keep deferring jobs: {_names(done[-10:])}")


def _run(job: ProcrastinateJob, *, raise_errors: bool) -> None:
    task = app.tasks[job.task_name]
    _set_status(job.pk, "doing")
    try:
        # Through the worker's task middleware, as a worker would: under the job's request id.
        kwargs = dict(job.args)
        bind_for_job(
            lambda: task.func(**kwargs),
            SimpleNamespace(job=SimpleNamespace(task_kwargs=kwargs)),
            None,
        )
    except Exception:
        _set_status(job.pk, "failed")
        if raise_errors:
            raise
    else:
        _set_status(job.pk, "succeeded")


def _set_status(job_id: int, status: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_jobs SET status = %s, attempts = attempts + %s WHERE id = %s",
            [status, 1 if status == "doing" else 0, job_id],
        )


def _names(jobs: Iterable[ProcrastinateJob]) -> list[str]:
    return [job.task_name for job in jobs]
