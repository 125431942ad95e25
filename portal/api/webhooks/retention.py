"""How long webhook events are kept: the delivery log, and the grant snapshots in it.

An event's body holds the grant as the API showed it, the owner's email included, so events
are not kept for ever: ``portal.purge_webhook_events`` (on ``UPKEEP_PURGE_SCHEDULE``) deletes
those older than ``WEBHOOKS_RETENTION_DAYS`` whose deliveries are all finished (delivered or
given up); their deliveries go with them. A delivery still retrying is never cut short.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef

from portal.models import WebhookDelivery, WebhookEvent


def purge_old_events(*, now: datetime) -> int:
    """Delete the finished events older than the retention period; returns how many."""
    cutoff = now - timedelta(days=float(settings.WEBHOOKS_RETENTION_DAYS))
    pending = WebhookDelivery.objects.filter(
        event=OuterRef("pk"), state=WebhookDelivery.State.PENDING
    )
    old = WebhookEvent.objects.filter(created_at__lt=cutoff).exclude(Exists(pending))
    deleted, by_model = old.delete()
    return by_model.get(WebhookEvent._meta.label, 0)
