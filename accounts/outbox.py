"""The one way the portal sends mail: queued in the caller's transaction, delivered by a job.

:func:`send_later` puts a rendered message into a Procrastinate job on the ``mail`` queue.
Procrastinate's Django connector writes the job through Django's own connection, so a job
queued inside ``transaction.atomic()`` commits with the change that caused it or not at all
(an outbox), and nobody talks to a mail server while holding a lock: the request, the sweep
or the row lock only inserts a row. A worker runs the job after commit and calls
:func:`deliver` (SMTP, with ``EMAIL_TIMEOUT_SECONDS``), outside any transaction.

Delivery is at least once: a worker killed after the mail server took a message but before
the job was marked done runs it again (``portal.retry_stalled_jobs``), so a message may
arrive twice, never zero times. A failed delivery is retried with exponential back-off for
about 18 hours (:data:`RETRY`).

Jobs carry no secret: messages whose text holds one (a password-reset link) are queued by
their recipient's id and rendered when the job runs (``accounts.password_reset``). The tasks
themselves are shells in ``portal/tasks.py``; they are named here by their task names only.
"""

import logging

from django.core.mail import EmailMultiAlternatives
from procrastinate import RetryStrategy
from procrastinate.contrib.django import app
from procrastinate.jobs import JobDeferrer
from procrastinate.types import JSONValue

from accounts import request_id

logger = logging.getLogger(__name__)

QUEUE = "mail"  # its own queue: a backlog of sweeps never delays a message
SEND_MAIL = "portal.send_mail"
SEND_PASSWORD_RESET = "portal.send_password_reset"
SEND_EMAIL_VERIFICATION = "portal.send_email_verification"
# Waits of 60 s + 2**n s (62 s, 64 s, 68 s … about 9 hours): 15 retries span about 18 hours.
# Only OSErrors (smtplib's errors, timeouts, refused connections) are retried; a bug fails the
# job at once.
RETRY = RetryStrategy(max_attempts=15, wait=60, exponential_wait=2, retry_exceptions=[OSError])


def send_later(*, kind: str, to: list[str], subject: str, text: str, html: str = "") -> int:
    """Queue one message (plain text, with ``html`` beside it when given); returns the job id.

    ``kind`` names the message in logs (``needs_reconnect``, ``grant_warning`` …). Call it in
    the transaction of the change the message announces. Nothing here may be secret.
    """
    recipients: list[JSONValue] = list(to)
    return mail_task(SEND_MAIL).defer(
        **request_id.tagged(kind=kind, to=recipients, subject=subject, text=text, html=html)
    )


def mail_task(task_name: str) -> JobDeferrer:
    """A mail task to defer, on the mail queue (an unknown name is an error, not a new task)."""
    return app.configure_task(name=task_name, queue=QUEUE, allow_unknown=False)


def deliver(
    *,
    kind: str,
    to: list[str],
    subject: str,
    text: str,
    html: str = "",
    headers: dict[str, str] | None = None,
) -> None:
    """Hand one message to the mail server (the jobs' side; raises OSError on SMTP trouble,
    ``smtplib.SMTPRecipientsRefused`` when the server refuses every recipient). ``headers``
    are extra header fields (``List-Unsubscribe`` …), never a secret."""
    message = EmailMultiAlternatives(" ".join(subject.split()), text, to=to, headers=headers)
    if html:
        message.attach_alternative(html, "text/html")
    message.send()
    logger.info("delivered %s email to %d recipient(s)", kind, len(to))
