"""Demo audit events in bulk, in time order, for the people and grants that
``portal.demo.users`` and ``portal.demo.grants`` made.

Each grant gets its life story (connected, and revocation requested and done when it was
revoked); the rest are everyday events (refreshes, token hand-outs, health checks, failures,
staff actions) at random times after the grant was connected. All are COPYed oldest first:
the insertion order is the log's order.
"""

import random
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb

from accounts.models import AuditEvent
from portal.demo.bulk_copy import Progress, copy_tuples
from portal.demo.grants import DemoGrant
from portal.demo.users import SPREAD_DAYS, DemoUser

A = AuditEvent.Action
SPREAD_SECONDS = SPREAD_DAYS * 86400
# Everyday events, by weight. An action missing here (added later) still appears, rarely.
WEIGHTS: dict[str, float] = {
    A.REFRESHED: 28,
    A.TOKEN_ISSUED: 22,
    A.CHECKED: 18,
    A.TESTED: 3,
    A.CONNECT_STARTED: 3,
    A.REFRESH_FAILED: 3,
    A.CONNECTED: 1.5,
    A.RECONNECTED: 1.5,
    A.CHECK_FAILED: 1.5,
    A.CONNECT_FAILED: 0.8,
    A.RECOVERED: 0.7,
    A.REVOKE_REQUESTED: 0.3,
    A.REVOKE_FAILED: 0.3,
    A.OWNER_ALERTED: 0.5,
    A.SUPERSEDED_TOKEN_REVOKED: 0.5,
    A.WARNING_RAISED: 0.4,
    A.WARNING_CLEARED: 0.3,
    A.HIDDEN: 0.2,
    A.SECRETS_PURGED: 0.2,
    A.ALERT_EMAILS_CHANGED: 0.2,
}
RARE = 0.05
BY_OWNER = {
    A.CONNECT_STARTED,
    A.CONNECTED,
    A.RECONNECTED,
    A.CONNECT_FAILED,
    A.TESTED,
    A.REVOKE_REQUESTED,
    A.REVOKED,
    A.HIDDEN,
    A.ALERT_EMAILS_CHANGED,
}
BY_STAFF = {
    A.SERVICE_KEY_CREATED,
    A.SERVICE_KEY_REVOKED,
    A.USER_DEACTIVATED,
    A.USER_REACTIVATED,
    A.AUDIT_EXPORTED,
}
FAILURES = {
    A.CONNECT_FAILED,
    A.SUPERSEDED_TOKEN_REVOKE_FAILED,
    A.REFRESH_FAILED,
    A.REVOKE_FAILED,
    A.CHECK_FAILED,
}
REASONS = (
    "Customer cancelled the subscription",
    "Security review: the employee left the company",
    "Duplicate connection",
    "Requested by the owner",
    "Kunde hat gekündigt",
    "Compte fermé à la demande du client",
    "Suspicious activity reported by Zoho <admin@zoho.example>",
)
ERRORS = ("timeout", "connection_failed", "http_503", "throttled", "invalid_code")
SERVICE_KEY = "service key desk-app production (dck_a1b2c3d4_…)"
AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/18.1 Safari",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
)
# The columns COPY fills; the hash chain (seq, prev_hash, hash) is the trigger's to fill.
COLUMNS = [
    "created_at",
    "actor_id",
    "actor_repr",
    "action",
    "grant_id",
    "grant_repr",
    "detail",
    "ip_address",
    "user_agent",
    "outcome",
    "owner_id",
    "owner_repr",
]
GRANT_BITS = 26  # packed event keys: milliseconds | action | grant index
ACTION_BITS = 7


def insert_events(
    rng: random.Random,
    count: int,
    *,
    grants: Sequence[DemoGrant],
    users: Sequence[DemoUser],
    staff: Sequence[DemoUser],
    now: datetime,
    progress: Progress,
) -> Counter[str]:
    """COPY ``count`` events, oldest first; return how many of each action."""
    if count <= 0 or not grants:
        return Counter()
    actions = [str(action) for action in A.values]
    keys = _planned(rng, count, grants, actions, now)
    counts: Counter[str] = Counter()
    start = now - timedelta(seconds=SPREAD_SECONDS)
    context = _Context(rng, grants, users, staff or users, counts)
    rows = (context.row(key, actions, start) for key in keys)
    copy_tuples(AuditEvent._meta.db_table, COLUMNS, rows, len(keys), "events", progress)
    return counts


def _planned(
    rng: random.Random,
    count: int,
    grants: Sequence[DemoGrant],
    actions: list[str],
    now: datetime,
) -> list[int]:
    """Sorted packed keys (time in ms since the window's start, action, grant index)."""
    start = now - timedelta(seconds=SPREAD_SECONDS)
    index = {action: position for position, action in enumerate(actions)}
    keys: list[int] = []

    def add(at: datetime, action: str, grant_index: int) -> None:
        ms = max(0, int((at - start).total_seconds() * 1000))
        keys.append(
            (ms << (ACTION_BITS + GRANT_BITS)) | (index[action] << GRANT_BITS) | grant_index
        )

    for position, grant in enumerate(grants):
        if len(keys) >= count:
            break
        add(grant.connected_at, A.CONNECTED, position)
        if grant.revoked_at is not None:
            add(
                grant.revoked_at - timedelta(seconds=rng.randrange(1, 600)),
                A.REVOKE_REQUESTED,
                position,
            )
            add(grant.revoked_at, A.REVOKED, position)
    del keys[count:]
    weights = [WEIGHTS.get(action, RARE) for action in actions]
    everyday = rng.choices(actions, weights, k=count - len(keys))
    now_ms = SPREAD_SECONDS * 1000
    for action in everyday:
        position = rng.randrange(len(grants))
        since = int((grants[position].connected_at - start).total_seconds() * 1000)
        ms = rng.randrange(max(since, 0), now_ms)
        keys.append((ms << (ACTION_BITS + GRANT_BITS)) | (index[action] << GRANT_BITS) | position)
    keys.sort()
    return keys


class _Context:
    """Turns packed keys into rows, with details, actors and addresses that fit the action."""

    def __init__(
        self,
        rng: random.Random,
        grants: Sequence[DemoGrant],
        users: Sequence[DemoUser],
        staff: Sequence[DemoUser],
        counts: Counter[str],
    ) -> None:
        self.rng, self.grants, self.users, self.staff = rng, grants, users, staff
        self.counts = counts

    def row(self, key: int, actions: list[str], start: datetime) -> tuple[Any, ...]:
        grant = self.grants[key & ((1 << GRANT_BITS) - 1)]
        action = actions[(key >> GRANT_BITS) & ((1 << ACTION_BITS) - 1)]
        at = start + timedelta(milliseconds=key >> (ACTION_BITS + GRANT_BITS))
        self.counts[action] += 1
        rng = self.rng
        actor: DemoUser | None = None
        if action in BY_STAFF or (
            action in (A.REVOKE_REQUESTED, A.REVOKED) and rng.random() < 0.15
        ):
            actor = rng.choice(self.staff)
        elif action in BY_OWNER:
            actor = grant.owner
        on_grant = action.startswith("grant.")
        owner = grant.owner if on_grant or action.startswith("user.alert") else None
        if action in (A.USER_DEACTIVATED, A.USER_REACTIVATED):
            owner = rng.choice(self.users)
        return (
            at,
            actor.id if actor is not None else None,
            str(actor) if actor is not None else (SERVICE_KEY if action == A.TOKEN_ISSUED else ""),
            action,
            grant.id if on_grant else None,
            str(grant) if on_grant else "",
            Jsonb(self._detail(action, grant, owner)),
            _address(rng) if actor is not None else None,
            rng.choice(AGENTS) if actor is not None else "",
            "failure" if action in FAILURES else "success",
            owner.id if owner is not None else None,
            owner.email if owner is not None else "",
        )

    def _detail(self, action: str, grant: DemoGrant, owner: DemoUser | None) -> dict[str, Any]:
        make = DETAILS.get(action)
        return make(self.rng, grant, owner) if make else {}


Detail = Callable[[random.Random, DemoGrant, DemoUser | None], dict[str, Any]]
DETAILS: dict[str, Detail] = {
    A.CONNECT_STARTED: lambda r, g, o: {"region": "cn" if g.data_centre == "cn" else "global"},
    A.CONNECTED: lambda r, g, o: {"dc": g.data_centre, "organizations": r.randint(1, 3)},
    A.RECONNECTED: lambda r, g, o: {"dc": g.data_centre},
    A.CONNECT_FAILED: lambda r, g, o: {"reason": r.choice(("access_denied", "invalid_code"))},
    A.REFRESHED: lambda r, g, o: {"recovered": False, "rotated": False},
    A.REFRESH_FAILED: lambda r, g, o: {"error": r.choice(ERRORS), "status": "trouble"},
    A.REVOKE_REQUESTED: lambda r, g, o: {"reason": r.choice(REASONS)},
    A.REVOKED: lambda r, g, o: {"zoho": "confirmed", "reason": r.choice(REASONS)},
    A.REVOKE_FAILED: lambda r, g, o: {"error": r.choice(ERRORS)},
    A.TOKEN_ISSUED: lambda r, g, o: {"service_key": SERVICE_KEY},
    A.CHECKED: lambda r, g, o: {"recovered": False},
    A.CHECK_FAILED: lambda r, g, o: {"status": r.choice(("trouble", "needs_reconnect"))},
    A.RECOVERED: lambda r, g, o: {"by": "health check"},
    A.OWNER_ALERTED: lambda r, g, o: {"emailed": True},
    A.WARNING_RAISED: lambda r, g, o: {"warning": "repeated_failures"},
    A.WARNING_CLEARED: lambda r, g, o: {"warning": "repeated_failures"},
    A.ALERT_EMAILS_CHANGED: lambda r, g, o: {"enabled": r.random() < 0.5},
    A.SERVICE_KEY_CREATED: lambda r, g, o: {"service_key": SERVICE_KEY},
    A.SERVICE_KEY_REVOKED: lambda r, g, o: {"service_key": SERVICE_KEY},
    A.USER_DEACTIVATED: lambda r, g, o: {"user": str(o), "reason": r.choice(REASONS)},
    A.USER_REACTIVATED: lambda r, g, o: {"user": str(o)},
    A.AUDIT_EXPORTED: lambda r, g, o: {"format": r.choice(("csv", "jsonl"))},
}


def _address(rng: random.Random) -> str:
    """An address from the documentation ranges (RFC 5737, RFC 3849)."""
    net = rng.choice(("192.0.2", "198.51.100", "203.0.113", "2001:db8::"))
    return (
        f"{net}{rng.randrange(1, 255):x}"
        if net.endswith("::")
        else f"{net}.{rng.randrange(1, 255)}"
    )
