"""The grant state machine, defined once: what each status allows and which status may follow.

DESIGN.md draws the diagram; this module is the only place that says it in code. Services
lock the row, call :func:`move` and save, so a transition the table does not list raises
instead of being stored.
"""

from portal.models import ZohoGrant

Status = ZohoGrant.Status

# Statuses in which the token service hands out (and refreshes) access tokens.
HANDS_OUT: tuple[Status, ...] = (Status.ACTIVE, Status.TROUBLE)
# Statuses the background health check visits (the same grants: nothing else can be proven).
CHECKED: tuple[Status, ...] = HANDS_OUT
# Statuses that may carry an early warning (a sign that a working grant is about to break).
MAY_WARN: tuple[Status, ...] = HANDS_OUT
# Statuses whose refresh token may still be alive at Zoho (it counts toward Zoho's cap):
# Needs reconnect was rejected by Zoho, Revoked is gone; Revoking is not confirmed yet.
HELD_AT_ZOHO: tuple[Status, ...] = (Status.ACTIVE, Status.TROUBLE, Status.REVOKING)

# (from, to) -> the service that makes the move; ``None`` is a grant not stored yet.
TRANSITIONS: dict[tuple[Status | None, Status], str] = {
    (None, Status.ACTIVE): "connect: first connection",
    (Status.ACTIVE, Status.ACTIVE): "tokens: refresh ok; connect: reconnect",
    (Status.TROUBLE, Status.ACTIVE): "tokens: refresh ok; connect: reconnect",
    (Status.NEEDS_RECONNECT, Status.ACTIVE): "connect: reconnect",
    # The same Zoho user connected again while a revocation waits for Zoho: the grant is
    # stored again in place and the superseded refresh token is revoked on its own.
    (Status.REVOKING, Status.ACTIVE): "connect: reconnect",
    (Status.ACTIVE, Status.TROUBLE): "tokens: transient refresh failure",
    (Status.TROUBLE, Status.TROUBLE): "tokens: transient refresh failure",
    (Status.ACTIVE, Status.NEEDS_RECONNECT): "tokens: Zoho rejected the grant",
    (Status.TROUBLE, Status.NEEDS_RECONNECT): "tokens: Zoho rejected the grant",
    (Status.ACTIVE, Status.REVOKING): "revocation: revoke_grant",
    (Status.TROUBLE, Status.REVOKING): "revocation: revoke_grant",
    (Status.NEEDS_RECONNECT, Status.REVOKING): "revocation: revoke_grant",
    (Status.REVOKING, Status.REVOKED): "revocation: finish_revocation, abandon_revocation",
}


class ForbiddenTransition(ValueError):
    """A service tried a status change the state machine does not allow (a bug, not input)."""


def may_move(*, current: str | None, to: str) -> bool:
    """Whether a grant in ``current`` (``None``: not stored yet) may become ``to``."""
    return (_status(current), _status(to)) in TRANSITIONS


def move(grant: ZohoGrant, *, to: Status) -> None:
    """Set ``grant.status`` to ``to`` or raise :class:`ForbiddenTransition`; the caller saves.

    The current status is the one on the instance, which services have just read under the
    row lock; an instance not stored yet counts as ``None``.
    """
    current = None if grant._state.adding else grant.status
    if not may_move(current=current, to=to):
        raise ForbiddenTransition(f"grant {grant.pk}: {current} -> {to} is not allowed")
    grant.status = to


def _status(value: str | None) -> Status | str | None:
    """The enum member for a stored value; an unknown value stays a string (never allowed)."""
    if value is None or value not in Status.values:
        return value
    return Status(value)
