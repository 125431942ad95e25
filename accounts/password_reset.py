"""Password reset by email, with the mail sent by a job (``accounts.outbox``).

The reset link is a secret, so it never enters a job: the request queues only the user's id,
and the job makes the link when it runs (Django's token generator derives the token from the
user's current state: it stops working once the password changes or the user logs in). The
link points at ``PORTAL_BASE_URL``, like every link a worker mails. The request no longer waits
for a mail server, so a known address answers alike and about as fast as an unknown one.
"""

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.tokens import default_token_generator
from django.template.loader import render_to_string
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts import outbox, request_id
from accounts.models import User

SUBJECT_TEMPLATE = "accounts/password_reset_subject.txt"
TEXT_TEMPLATE = "accounts/password_reset_email.txt"


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Django's form; :meth:`save` queues one reset job per matching account instead of
    sending in the request."""

    def get_users(self, email: str) -> Iterator[User]:
        """Django's rule, plus users without a password whose email is verified: a customer
        the app's connect link created sets their first password this way."""
        users = User.objects.filter(email__iexact=email, is_active=True)
        return (user for user in users if may_reset(user) and user.email.lower() == email.lower())

    def save(self, *args: Any, **kwargs: Any) -> None:
        for user in self.get_users(self.cleaned_data["email"]):
            outbox.mail_task(outbox.SEND_PASSWORD_RESET).defer(**request_id.tagged(user_id=user.pk))


def may_reset(user: User) -> bool:
    return user.has_usable_password() or user.email_verified_at is not None


def send_reset_link(*, user_id: int) -> bool:
    """Make a fresh reset link for the user and mail it (the job's side); False when the
    account can no longer reset its password (deactivated, deleted, no usable password)."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not may_reset(user):
        return False
    base = str(settings.PORTAL_BASE_URL).rstrip("/")
    protocol, domain = base.split("://", 1)
    context = {
        "email": user.email,
        "protocol": protocol,
        "domain": domain,
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "token": default_token_generator.make_token(user),
        "user": user,
    }
    outbox.deliver(
        kind="password_reset",
        to=[user.email],
        subject=render_to_string(SUBJECT_TEMPLATE, context),
        text=render_to_string(TEXT_TEMPLATE, context),
    )
    return True
