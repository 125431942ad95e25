"""Webhook endpoints: register (the secret shown once), list, rotate the secret, delete, disable.

Endpoints are global to the deployment: any valid service key may list and delete any of
them (a portal serves one app, whose backend may rotate its keys); the key that registered an
endpoint is kept by name and every change is audited with the key's name. The signing secret
is encrypted with ``portal.crypto`` bound to the endpoint's id; it never reaches a log, an
audit row or a page after the answer that created it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from django.db import connection, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts.audit import AuditContext, record_event
from accounts.models import AuditEvent
from portal.api.webhooks import addresses, signing
from portal.crypto import decrypt_token, encrypt_token
from portal.grants.events import EventType
from portal.models import WebhookEndpoint

Action = AuditEvent.Action
MAX_ENDPOINTS = 20
SECRET_OVERLAP = timedelta(hours=24)  # a rotated-out secret signs deliveries this long too
_REGISTRATION_LOCK = 0x57484B31  # "WHK1": the advisory lock of registering an endpoint


class EndpointRefused(Exception):
    """The request cannot register an endpoint; ``code`` is stable, ``detail`` for people."""

    def __init__(self, code: str, detail: str) -> None:
        self.code = code
        self.detail = detail
        super().__init__(code)


@dataclass(frozen=True)
class Registered:
    endpoint: WebhookEndpoint
    secret: str  # shown once


def _context_secret(endpoint_id: UUID) -> str:
    return f"webhook:{endpoint_id}"


def host_of(url: str) -> str:
    return urlsplit(url).hostname or ""


def checked_events(value: Any) -> list[str]:
    """The subscribed event types: a non-empty list of known types, each once."""
    known = {str(kind) for kind in EventType}
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(kind, str) and kind in known for kind in value)
        or len(set(value)) != len(value)
    ):
        raise EndpointRefused(
            "bad_request", f"events: a list of distinct event types among {sorted(known)}."
        )
    return list(value)


@sensitive_variables("secret")
def register_endpoint(*, url: Any, events: Any, context: AuditContext) -> Registered:
    """Check the URL (and now its addresses) and the events, store, audit; the secret is
    returned once."""
    if not isinstance(url, str):
        raise EndpointRefused("bad_request", "url must be a string.")
    kinds = checked_events(events)
    try:
        if addresses.private_networks_allowed():
            addresses.check_url(url)  # anything goes, so the name is not looked up yet
        else:
            addresses.resolve(url)
    except addresses.UnsafeTarget as refused:
        raise EndpointRefused(
            "webhook_url_refused", f"The URL is not allowed ({refused.code})."
        ) from None
    secret = signing.new_secret()
    with transaction.atomic():
        with connection.cursor() as cursor:  # registrations one at a time: the cap holds
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_REGISTRATION_LOCK])
        if WebhookEndpoint.objects.count() >= MAX_ENDPOINTS:
            raise EndpointRefused("too_many_endpoints", f"At most {MAX_ENDPOINTS} endpoints.")
        endpoint = WebhookEndpoint(
            url=url, events=kinds, created_by_repr=str(context.actor or "")[:254]
        )
        endpoint.secret_encrypted = encrypt_token(secret, context=_context_secret(endpoint.pk))
        endpoint.save()
        record_event(action=Action.WEBHOOK_CREATED, context=context, detail=_detail(endpoint))
    return Registered(endpoint, secret)


def signing_secrets(endpoint: WebhookEndpoint, *, at: datetime) -> list[str]:
    """The secrets to sign with at ``at``: the current one, then a rotated-out one during its
    overlap (``TokenDecryptError`` when one is unreadable)."""
    context = _context_secret(endpoint.pk)
    found = [decrypt_token(endpoint.secret_encrypted, context=context)]
    until = endpoint.previous_secret_until
    if endpoint.previous_secret_encrypted is not None and until is not None and until > at:
        found.append(decrypt_token(endpoint.previous_secret_encrypted, context=context))
    return found


@sensitive_variables("secret")
def rotate_secret(*, endpoint_id: UUID, context: AuditContext) -> Registered | None:
    """A new secret (returned once); the old one still signs for :data:`SECRET_OVERLAP`.
    None when there is no such endpoint."""
    secret = signing.new_secret()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id).first()
        if endpoint is None:
            return None
        endpoint.previous_secret_encrypted = endpoint.secret_encrypted
        endpoint.previous_secret_until = timezone.now() + SECRET_OVERLAP
        endpoint.secret_encrypted = encrypt_token(secret, context=_context_secret(endpoint.pk))
        endpoint.save(
            update_fields=["secret_encrypted", "previous_secret_encrypted", "previous_secret_until"]
        )
        detail = {**_detail(endpoint), "overlap_hours": SECRET_OVERLAP.total_seconds() / 3600}
        record_event(action=Action.WEBHOOK_SECRET_ROTATED, context=context, detail=detail)
    return Registered(endpoint, secret)


def endpoint_payload(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """An endpoint as the API shows it (never the secret)."""
    return {
        "id": str(endpoint.pk),
        "url": endpoint.url,
        "events": endpoint.events,
        "created_at": endpoint.created_at.isoformat(),
        "disabled_at": endpoint.disabled_at.isoformat() if endpoint.disabled_at else None,
        "previous_secret_until": (
            endpoint.previous_secret_until.isoformat() if endpoint.previous_secret_until else None
        ),
    }


def list_endpoints() -> list[WebhookEndpoint]:
    listed = WebhookEndpoint.objects.defer("secret_encrypted", "previous_secret_encrypted")
    return list(listed.order_by("created_at", "id"))


def delete_endpoint(*, endpoint_id: UUID, context: AuditContext) -> bool:
    """Delete an endpoint and its delivery log; False when there is no such endpoint."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id).first()
        if endpoint is None:
            return False
        record_event(action=Action.WEBHOOK_DELETED, context=context, detail=_detail(endpoint))
        endpoint.delete()
    return True


def disable_endpoint(*, endpoint: WebhookEndpoint, reason: str) -> None:
    """Stop sending to an endpoint (its receiver answered 410 Gone); in the caller's
    transaction, audited as the portal's own decision."""
    endpoint.disabled_at = timezone.now()
    endpoint.save(update_fields=["disabled_at"])
    record_event(action=Action.WEBHOOK_DISABLED, detail={**_detail(endpoint), "reason": reason})


def _detail(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """What the audit keeps: the id, the host and the events (no path or query: a receiver
    may carry its own credential there)."""
    return {"endpoint": str(endpoint.pk), "host": host_of(endpoint.url), "events": endpoint.events}
