"""Staff pages for webhooks: the endpoints, each one's recent deliveries, and redelivery.

Never the signing secret: the endpoints are read without it. Redelivery is a POST with CSRF,
guarded by the one permission like every view here, and audited by the service it calls.
"""

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.audit import AuditContext
from accounts.models import AuthenticatedHttpRequest
from portal.api.webhooks import delivery as deliveries
from portal.models import WebhookDelivery, WebhookEndpoint
from portal.staff.access import MANAGE_WEBHOOKS, staff_permission_required

RECENT = 100


@staff_permission_required(MANAGE_WEBHOOKS)
@require_GET
def webhooks(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Every endpoint with its delivery counts."""
    pending, failed = WebhookDelivery.State.PENDING, WebhookDelivery.State.FAILED
    listed = (
        WebhookEndpoint.objects.defer("secret_encrypted", "previous_secret_encrypted")
        .annotate(
            pending=Count("deliveries", filter=Q(deliveries__state=pending)),
            failed=Count("deliveries", filter=Q(deliveries__state=failed)),
            total=Count("deliveries"),
        )
        .order_by("created_at", "id")
    )
    rows = [
        {
            "id": endpoint.pk,
            "url": endpoint.url,
            "events": ", ".join(endpoint.events),
            "created_at": endpoint.created_at,
            "created_by": endpoint.created_by_repr,
            "disabled_at": endpoint.disabled_at,
            "pending": endpoint.pending,
            "failed": endpoint.failed,
            "total": endpoint.total,
        }
        for endpoint in listed
    ]
    return render(request, "portal/staff/webhooks.html", {"endpoints": rows})


@staff_permission_required(MANAGE_WEBHOOKS)
@require_GET
def webhook_detail(request: AuthenticatedHttpRequest, endpoint_id: UUID) -> HttpResponse:
    """One endpoint's newest deliveries: status, attempts, last answer or error."""
    endpoint = get_object_or_404(
        WebhookEndpoint.objects.defer("secret_encrypted", "previous_secret_encrypted"),
        pk=endpoint_id,
    )
    recent = (
        WebhookDelivery.objects.filter(endpoint=endpoint)
        .select_related("event")
        .defer("event__body")
        .order_by("-created_at", "-id")[:RECENT]
    )
    rows: list[dict[str, Any]] = [
        {
            "id": found.pk,
            "message_id": found.event.message_id,
            "type": found.event.type,
            "grant_id": found.event.grant_id,
            "state": found.get_state_display(),
            "attempts": found.attempts,
            "last_attempt_at": found.last_attempt_at,
            "next_attempt_at": found.next_attempt_at,
            "response_code": found.last_response_code,
            "last_error": found.last_error,
            "can_redeliver": endpoint.disabled_at is None,
        }
        for found in recent
    ]
    context = {"endpoint": endpoint, "deliveries": rows, "limit": RECENT}
    return render(request, "portal/staff/webhook_detail.html", context)


@staff_permission_required(MANAGE_WEBHOOKS)
@require_POST
def webhook_redeliver(request: AuthenticatedHttpRequest, delivery_id: int) -> HttpResponse:
    """Send a delivery once more, now (same ``webhook-id``, signed afresh)."""
    found = get_object_or_404(WebhookDelivery.objects.only("id", "endpoint_id"), pk=delivery_id)
    if deliveries.redeliver(delivery_id=found.pk, context=AuditContext.from_request(request)):
        messages.success(request, "The delivery is queued to be sent again.")
    else:
        messages.error(request, "This endpoint is disabled: nothing is sent to it.")
    return redirect("staff:webhook_detail", endpoint_id=found.endpoint_id)
