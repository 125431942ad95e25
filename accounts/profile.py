"""A portal user's own preferences."""

from django.db import transaction

from accounts.audit import AuditContext, record_event
from accounts.models import AuditEvent, User


def set_alert_emails(*, user: User, enabled: bool, context: AuditContext | None = None) -> bool:
    """Turn the Needs-reconnect emails on or off; audited. False when nothing changed."""
    with transaction.atomic():
        changed = (
            User.objects.filter(pk=user.pk)
            .exclude(has_alert_emails=enabled)
            .update(has_alert_emails=enabled)
        )
        if changed:
            record_event(
                action=AuditEvent.Action.ALERT_EMAILS_CHANGED,
                actor=user,
                context=context,
                detail={"enabled": enabled},
            )
    user.has_alert_emails = enabled
    return bool(changed)
