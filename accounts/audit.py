"""The only writer of audit events.

Call :func:`record_event` inside the same ``transaction.atomic()`` block as the change it
describes, so both commit or neither does.
"""

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import AuditEvent

FORBIDDEN_DETAIL_WORDS = ("token", "secret", "code", "state", "verifier", "password")
MAX_DETAIL_TEXT = 500


class AuditDetailError(ValueError):
    """Audit detail named something that may hold a secret."""


def record_event(
    *,
    action: str,
    actor: Any = None,
    request: HttpRequest | None = None,
    grant: Any = None,
    outcome: str = AuditEvent.Outcome.SUCCESS,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event. ``grant`` is any object with ``pk`` and a safe ``str()``."""
    detail = _checked_detail(detail or {})
    if actor is None and request is not None and request.user.is_authenticated:
        actor = request.user
    return AuditEvent.objects.create(
        action=action,
        actor_id=getattr(actor, "pk", None),
        actor_repr=str(actor)[:254] if actor is not None else "",
        grant_id=getattr(grant, "pk", None),
        grant_repr=str(grant)[:300] if grant is not None else "",
        detail=detail,
        ip_address=request.META.get("REMOTE_ADDR") if request is not None else None,
        user_agent=request.headers.get("User-Agent", "")[:300] if request is not None else "",
        outcome=outcome,
    )


def list_events(*, grant_id: Any = None, actor_id: int | None = None) -> QuerySet[AuditEvent]:
    """Events newest first, narrowed to one grant and/or one actor."""
    events = AuditEvent.objects.all()
    if grant_id is not None:
        events = events.filter(grant_id=grant_id)
    if actor_id is not None:
        events = events.filter(actor_id=actor_id)
    return events


def _checked_detail(detail: dict[str, Any]) -> dict[str, Any]:
    for key, value in detail.items():
        lowered = key.lower()
        if any(word in lowered for word in FORBIDDEN_DETAIL_WORDS):
            raise AuditDetailError(f"Audit detail key {key!r} may hold a secret; name it safely.")
        if isinstance(value, str) and len(value) > MAX_DETAIL_TEXT:
            detail[key] = value[:MAX_DETAIL_TEXT]
    return detail
