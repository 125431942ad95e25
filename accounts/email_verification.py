"""Confirming a self-signed-up user's email with a signed, expiring link.

The link is a ``django.core.signing`` token over the user's id and current email, valid for
``EMAIL_VERIFICATION_MAX_AGE_DAYS``; it stops working once the email changes. Like a reset
link it is a secret, so no job carries it: the request queues the user's id and the job
builds the link when it runs, pointing at ``PORTAL_BASE_URL``. Until the email is confirmed
the API's ``?email=`` lookup does not find the user's grants.
"""

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts import outbox, request_id
from accounts.audit import AuditContext, record_event
from accounts.models import AuditEvent, User

SALT = "accounts.email_verification"
SUBJECT_TEMPLATE = "accounts/verify_email_subject.txt"
TEXT_TEMPLATE = "accounts/verify_email_email.txt"


def request_verification(*, user: User) -> int:
    """Queue the confirmation mail for ``user`` (call in the transaction that needs it)."""
    task = outbox.mail_task(outbox.SEND_EMAIL_VERIFICATION)
    return task.defer(**request_id.tagged(user_id=user.pk))


def verification_link(user: User) -> str:
    token = signing.dumps({"u": user.pk, "e": user.email.lower()}, salt=SALT, compress=True)
    base = str(settings.PORTAL_BASE_URL).rstrip("/")
    return base + reverse("accounts:verify_email", args=[token])


def send_verification_link(*, user_id: int) -> bool:
    """Make a fresh link and mail it (the job's side); False when there is nothing to confirm."""
    user = User.objects.filter(pk=user_id, is_active=True, email_verified_at=None).first()
    if user is None:
        return False
    context = {
        "link": verification_link(user),
        "days": settings.EMAIL_VERIFICATION_MAX_AGE_DAYS,
    }
    outbox.deliver(
        kind="email_verification",
        to=[user.email],
        subject=render_to_string(SUBJECT_TEMPLATE, context),
        text=render_to_string(TEXT_TEMPLATE, context),
    )
    return True


def verify_email(*, token: str, context: AuditContext) -> User | None:
    """Mark the email the link names as verified (audited once); None for a link that is
    forged, expired or for an email the user no longer has."""
    max_age = timedelta(days=settings.EMAIL_VERIFICATION_MAX_AGE_DAYS)
    try:
        claim = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.BadSignature:  # SignatureExpired included
        return None
    user_id = claim.get("u") if isinstance(claim, dict) else None
    if not isinstance(user_id, int):
        return None
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=user_id, is_active=True).first()
        if user is None or user.email.lower() != claim.get("e"):
            return None
        if user.email_verified_at is None:
            user.email_verified_at = timezone.now()
            user.save(update_fields=["email_verified_at"])
            record_event(action=AuditEvent.Action.EMAIL_VERIFIED, actor=user, context=context)
    return user
