"""The only writer of audit events, and the selectors that read them.

Call :func:`record_event` inside the same ``transaction.atomic()`` block as the change it
describes, so both commit or neither does. The database numbers and chains each event
under one advisory lock held until commit (migration 0008), so in a transaction:

- take row locks first and record last: recording and then locking a row that another
  transaction holds while it waits to record would deadlock;
- call no remote service (Zoho, mail) after recording: every other writer would wait.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from django.contrib.postgres.search import SearchQuery
from django.db.models import QuerySet, Subquery
from django.db.models.functions import Lower
from django.http import HttpRequest

from accounts import request_id
from accounts.client_address import client_address
from accounts.models import REASON_WORDS, AuditEvent, User

FORBIDDEN_DETAIL_WORDS = ("token", "secret", "code", "state", "verifier", "password")
MAX_DETAIL_TEXT = 500
PAGE_SIZE = 50


class AuditDetailError(ValueError):
    """Audit detail named something that may hold a secret."""


class KeyActor(Protocol):
    """An actor that is not a person, such as the token API's service-key caller.

    The log keeps no user id for it, only its ``str()``, which must hold no secret.
    """

    @property
    def key_id(self) -> int: ...


class AuditedGrant(Protocol):
    """What the log keeps of a grant: its id, its owner's id and a ``str()`` without secrets.

    A ``ZohoGrant`` is one; the token API passes a lighter label it builds from one query.
    """

    @property
    def pk(self) -> UUID: ...

    @property
    def user_id(self) -> int | None: ...


# Who acts: a portal user or a service key (None, where taken, is the portal itself).
Actor = User | KeyActor


@dataclass(frozen=True)
class AuditContext:
    """Who acts and from where, for the audit rows of one action.

    Services take this instead of the request, so a task, a command or a test can give the
    same facts without an ``HttpRequest``. ``actor`` is a portal user, a service-key caller
    or None (the portal itself).
    """

    actor: Actor | None = None
    ip_address: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest) -> "AuditContext":
        """The one translation of a request: its signed-in user, address and user agent."""
        user = getattr(request, "user", None)
        return cls(
            actor=user if isinstance(user, User) else None,
            ip_address=client_address(request) or None,
            user_agent=request.headers.get("User-Agent", "")[:300],
        )


def record_event(
    *,
    action: str,
    actor: Actor | None = None,
    context: AuditContext | None = None,
    grant: AuditedGrant | None = None,
    outcome: str = AuditEvent.Outcome.SUCCESS,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event.

    The grant's ``user_id`` names its owner, so staff can filter by owner without a join.
    An explicit ``actor`` wins over the context's. The event keeps the id of the request or
    job it is written in (``accounts.request_id``), if any.
    """
    detail = _checked_detail(detail or {})
    context = context or AuditContext()
    if actor is None:
        actor = context.actor
    owner_id = grant.user_id if grant is not None else None
    return AuditEvent.objects.create(
        action=action,
        actor_id=actor.pk if isinstance(actor, User) else None,
        actor_repr=str(actor)[:254] if actor is not None else "",
        grant_id=grant.pk if grant is not None else None,
        grant_repr=str(grant)[:300] if grant is not None else "",
        owner_id=owner_id,
        owner_repr=_email_of(owner_id),
        detail=detail,
        ip_address=context.ip_address,
        user_agent=context.user_agent,
        outcome=outcome,
        request_id=request_id.current(),
    )


def list_events(
    *,
    grant_id: UUID | None = None,
    actor_id: int | None = None,
    owner_id: int | None = None,
    action: str = "",
    outcome: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    reason_words: str = "",
) -> QuerySet[AuditEvent]:
    """Events newest first (by ``seq``), narrowed by any of the filters.

    ``since`` is inclusive, ``until`` exclusive. Every filter is served by an index that
    ends in ``seq``; the time range becomes a ``seq`` range too (time never decreases along
    ``seq``), so a deep range is found by index, not by walking the newer events.
    """
    events = AuditEvent.objects.order_by("-seq")
    exact = {
        "grant_id": grant_id,
        "actor_id": actor_id,
        "owner_id": owner_id,
        "action": action or None,
        "outcome": outcome or None,
    }
    events = events.filter(**{name: value for name, value in exact.items() if value is not None})
    if since is not None:
        first = AuditEvent.objects.filter(created_at__gte=since).order_by("created_at", "seq")
        events = events.filter(created_at__gte=since, seq__gte=Subquery(first.values("seq")[:1]))
    if until is not None:
        last = AuditEvent.objects.filter(created_at__lt=until).order_by("-created_at", "-seq")
        events = events.filter(created_at__lt=until, seq__lte=Subquery(last.values("seq")[:1]))
    if query := _words_query(reason_words):
        events = events.alias(reason_words=REASON_WORDS).filter(reason_words=query)
    return events


def searchable_words(text: str) -> list[str]:
    """The words of a free-text search (letters and digits; everything else separates)."""
    return re.findall(r"[^\W_]+", text.lower())[:8]


@dataclass(frozen=True)
class EventPage:
    events: list[AuditEvent]
    newer: int | None  # cursor for the page of newer events ("after" this seq), if any
    older: int | None  # cursor for the page of older events ("before" this seq), if any


def event_page(
    events: QuerySet[AuditEvent],
    *,
    before: int | None = None,
    after: int | None = None,
    size: int = PAGE_SIZE,
) -> EventPage:
    """One page of ``events`` (newest first) by keyset on ``seq``: one query, any depth.

    ``before`` gives the events just older than that seq, ``after`` the ones just newer;
    neither gives the newest page.
    """
    if after is not None:
        rows = list(events.filter(seq__gt=after).order_by("seq")[: size + 1])
        has_newer, has_older = len(rows) > size, True
        rows = rows[:size][::-1]
    else:
        if before is not None:
            events = events.filter(seq__lt=before)
        rows = list(events.order_by("-seq")[: size + 1])
        has_newer, has_older = before is not None, len(rows) > size
        rows = rows[:size]
    if not rows:
        return EventPage([], None, None)
    return EventPage(
        rows,
        newer=rows[0].seq if has_newer else None,
        older=rows[-1].seq if has_older else None,
    )


def _words_query(text: str) -> SearchQuery | None:
    words = searchable_words(text)
    if not words:
        return None
    # Only letters and digits reach to_tsquery, so the user's text cannot be an operator.
    prefixes = " & ".join(f"{word}:*" for word in words)
    return SearchQuery(prefixes, config="simple", search_type="raw")


def _email_of(user_id: int | None) -> str:
    if user_id is None:
        return ""
    return User.objects.filter(pk=user_id).values_list("email", flat=True).first() or ""


def _checked_detail(detail: dict[str, Any]) -> dict[str, Any]:
    for key, value in detail.items():
        lowered = key.lower()
        if any(word in lowered for word in FORBIDDEN_DETAIL_WORDS):
            raise AuditDetailError(f"Audit detail key {key!r} may hold a secret; name it safely.")
        if isinstance(value, str) and len(value) > MAX_DETAIL_TEXT:
            detail[key] = value[:MAX_DETAIL_TEXT]
    return detail


def user_id_for(text: str) -> int | None:
    """A portal user's id from an id or an email address (any case); None when unknown."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    match = User.objects.annotate(email_lower=Lower("email")).filter(email_lower=text.lower())
    return match.values_list("pk", flat=True).first()
