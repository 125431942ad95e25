"""Procrastinate tasks: thin shells around the upkeep sweeps, the owner alerts, the mail,
staff revocations and webhook deliveries.

Jobs carry no tokens: periodic jobs carry only their tick's timestamp, mail jobs a rendered
message with no secret in it or a user's id (``accounts.outbox``), a staff revocation's jobs a
batch id and a grant id, a webhook delivery's jobs the delivery's id and its attempt key
(the signing secret is read from the database when the job runs), a migration's conversion
jobs and invitations an imported row's id. Periodic tasks get their schedule from settings when the
Procrastinate app is ready
(``portal.upkeep.schedules.schedule_periodic_tasks``).
A queueing lock keeps at most one waiting job per task; several workers may still run sweeps
at once, which is safe because each sweep claims its grants with ``SKIP LOCKED``.
"""

import logging
from uuid import UUID

from django.conf import settings
from django.utils import timezone
from procrastinate import JobContext, exceptions
from procrastinate.contrib.django import app
from procrastinate.jobs import Status

from accounts import email_verification, outbox, password_reset
from portal.api.webhooks import delivery, retention
from portal.grants import events, orphans, owner_alerts, user_deletion
from portal.migration import conversion, invitations
from portal.staff import bulk_revocation
from portal.upkeep import job_retention, sweeps

logger = logging.getLogger("portal.tasks")


@app.task(name="portal.check_due_grants", queueing_lock="portal.check_due_grants")
def check_due_grants(timestamp: int) -> None:
    summary = sweeps.check_due_grants()
    logger.info("health check sweep: %s", summary)


@app.task(name="portal.finish_revocations", queueing_lock="portal.finish_revocations")
def finish_revocations(timestamp: int) -> None:
    counts = sweeps.finish_pending_revocations()
    logger.info("pending revocations: %s", counts)
    # Users deleted while Zoho was down wait for their revocations (portal.grants.user_deletion).
    logger.info(
        "users deleted after their revocations: %d", user_deletion.finish_pending_deletions()
    )


@app.task(name="portal.revoke_orphaned_tokens", queueing_lock="portal.revoke_orphaned_tokens")
def revoke_orphaned_tokens(timestamp: int) -> None:
    logger.info("held refresh tokens: %s", orphans.revoke_orphaned_tokens())


@app.task(name="portal.purge_secrets", queueing_lock="portal.purge_secrets")
def purge_secrets(timestamp: int) -> None:
    logger.info("secrets purged from %d grants", sweeps.purge_stale_secrets())


@app.task(name="portal.purge_finished_jobs", queueing_lock="portal.purge_finished_jobs")
def purge_finished_jobs(timestamp: int) -> None:
    logger.info("finished jobs forgotten: %d", job_retention.purge_finished_jobs())


@app.task(name="portal.purge_webhook_events", queueing_lock="portal.purge_webhook_events")
def purge_webhook_events(timestamp: int) -> None:
    logger.info("old webhook events deleted: %d", retention.purge_old_events(now=timezone.now()))


@app.task(name="portal.send_alerts", queueing_lock="portal.send_alerts")
def send_alerts(timestamp: int) -> None:
    logger.info("needs-reconnect alerts sent: %d", owner_alerts.send_reconnect_alerts())


@app.task(name=outbox.SEND_MAIL, queue=outbox.QUEUE, retry=outbox.RETRY)
def send_mail(kind: str, to: list[str], subject: str, text: str, html: str = "") -> None:
    outbox.deliver(kind=kind, to=to, subject=subject, text=text, html=html)


@app.task(name=outbox.SEND_PASSWORD_RESET, queue=outbox.QUEUE, retry=outbox.RETRY)
def send_password_reset(user_id: int) -> None:
    if not password_reset.send_reset_link(user_id=user_id):
        logger.info("no reset link for user %s: the account can no longer reset", user_id)


@app.task(name=outbox.SEND_EMAIL_VERIFICATION, queue=outbox.QUEUE, retry=outbox.RETRY)
def send_email_verification(user_id: int) -> None:
    if not email_verification.send_verification_link(user_id=user_id):
        logger.info("no confirmation link for user %s: nothing to confirm", user_id)


@app.task(name=events.DELIVER_WEBHOOK, queue=events.QUEUE)
def deliver_webhook(delivery_id: int, key: str) -> None:
    """One attempt of a webhook delivery; the next one, if due, is a new job it defers."""
    outcome = delivery.deliver(delivery_id=delivery_id, key=key)
    logger.info("webhook delivery %s: %s", delivery_id, outcome)


@app.task(name=bulk_revocation.REVOKE_TASK)
def revoke_for_staff(revocation_id: str, grant_id: str) -> None:
    """One grant of a staff member's batch (deferred by the request that confirmed it)."""
    bulk_revocation.revoke_batch_item(revocation_id=UUID(revocation_id), grant_id=UUID(grant_id))


@app.task(name=conversion.CONVERT_TASK, queue=conversion.QUEUE, retry=conversion.RETRY)
def convert_migration_customer(customer_id: str) -> None:
    """One imported row's authtoken or refresh token (the job carries the row's id only)."""
    step = conversion.convert_customer(customer_id=UUID(customer_id))
    logger.info("migration row %s: %s", customer_id, step)


@app.task(name=invitations.INVITE_TASK, queue=outbox.QUEUE, retry=outbox.RETRY)
def send_migration_invitation(customer_id: str, reminder: bool = False) -> None:
    """A campaign customer's invitation or reminder: the link is made and mailed here."""
    outcome = invitations.send_invitation(customer_id=UUID(customer_id), reminder=reminder)
    logger.info("migration row %s: %s", customer_id, outcome)


@app.task(name=invitations.REMINDERS_TASK, queueing_lock=invitations.REMINDERS_TASK)
def send_migration_reminders(timestamp: int) -> None:
    due = invitations.defer_due_reminders(today=timezone.localdate())
    logger.info("migration reminders queued: %d", due)


@app.task(
    name="portal.retry_stalled_jobs", queueing_lock="portal.retry_stalled_jobs", pass_context=True
)
async def retry_stalled_jobs(context: JobContext, timestamp: int) -> None:
    """Run again the jobs of workers that died mid-task (no heartbeat for a while).

    Safe because every job is idempotent: a sweep only claims what is due, a staff
    revocation's job records its grant's outcome once, and a mail job may deliver its message
    twice (at least once, never lost). When the
    same task already waits in the queue (its queueing lock), that job does the work and the
    stalled one is closed as failed.
    """
    manager = context.app.job_manager
    after = float(settings.UPKEEP_STALLED_AFTER_SECONDS)
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=after):
        logger.warning("retrying job %s of a worker that stopped answering", job.id)
        try:
            await manager.retry_job(job)
        except exceptions.UniqueViolation:
            await manager.finish_job(job, status=Status.FAILED, delete_job=False)
