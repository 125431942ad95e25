"""How long finished Procrastinate jobs are kept, and the sweep that forgets the older ones.

Every mail, sweep tick, webhook attempt and conversion is a row in ``procrastinate_jobs`` (with
its events); nothing removes them, so the table and the queries that read it (the queue depth
and failed-job figures of ``/metrics`` and the upkeep page) would grow for ever. Jobs that
finished well (succeeded, cancelled, aborted) are forgotten after ``UPKEEP_JOBS_KEEP_DAYS``;
failed ones, which someone may still have to look at, after ``UPKEEP_FAILED_JOBS_KEEP_DAYS``.
Jobs still waiting or running are never touched. The statement is Procrastinate's own
(``delete_old_jobs``: a job's age is that of its last event), run through Django's connection.
"""

from django.conf import settings
from django.db import connection
from procrastinate.sql import queries

FINISHED_WELL = ["succeeded", "cancelled", "aborted"]
FAILED = ["failed"]


def purge_finished_jobs() -> int:
    """Delete the finished jobs past their keeping time; returns how many went."""
    deleted = 0
    for statuses, days in (
        (FINISHED_WELL, settings.UPKEEP_JOBS_KEEP_DAYS),
        (FAILED, settings.UPKEEP_FAILED_JOBS_KEEP_DAYS),
    ):
        with connection.cursor() as cursor:
            cursor.execute(
                queries["delete_old_jobs"],
                {"statuses": statuses, "queue": None, "nb_hours": int(days * 24)},
            )
            deleted += cursor.rowcount
    return deleted
