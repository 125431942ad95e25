"""The parts of the mail the portal sends (every message: plain text, with HTML beside it)."""

from django.core.mail import EmailMessage, EmailMultiAlternatives


def html_part(message: EmailMessage) -> str:
    """The HTML alternative of ``message`` (the first one, which the portal always attaches)."""
    assert isinstance(message, EmailMultiAlternatives), message
    content, mimetype = message.alternatives[0]
    assert mimetype == "text/html", mimetype
    assert isinstance(content, str), content
    return content
