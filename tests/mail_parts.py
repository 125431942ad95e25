"""The mail the portal sends (every message: plain text, with HTML beside it).

Mail leaves through jobs (``accounts.outbox``): :func:`delivered` runs the queued mail jobs in
this test, as a worker does after commit, and returns every message that reached the mail
backend so far.
"""

from django.core import mail
from django.core.mail import EmailMessage, EmailMultiAlternatives

from accounts import outbox
from tests.jobs import run_jobs


def delivered() -> list[EmailMessage]:
    """Run the queued mail jobs, then every message sent so far (``mail.outbox``)."""
    run_jobs(outbox.SEND_MAIL, outbox.SEND_PASSWORD_RESET, outbox.SEND_EMAIL_VERIFICATION)
    return mail.outbox


def html_part(message: EmailMessage) -> str:
    """The HTML alternative of ``message`` (the first one, which the portal always attaches)."""
    assert isinstance(message, EmailMultiAlternatives), message
    content, mimetype = message.alternatives[0]
    assert mimetype == "text/html", mimetype
    assert isinstance(content, str), content
    return content
