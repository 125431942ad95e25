"""The one token decision: hand out the stored access token, refresh it, or refuse.

Pure (no database, no clock): the API's hot path decides on its own query's row, the token
service (``portal.grants.tokens``) on its hot read and again on the locked row.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from portal.grants import lifecycle
from portal.models import ZohoGrant

# Zoho allows 10 access tokens per refresh token per 10 minutes; a minute between forced
# refreshes keeps a button or an eager caller from spending that allowance.
FORCE_REFRESH_INTERVAL = timedelta(seconds=60)
# The owner was deactivated by staff: no token until they are reactivated (the API's code).
OWNER_INACTIVE = "user_inactive"
REFRESH_TOO_SOON = "refresh_too_soon"


class Force(StrEnum):
    """Why a caller wants a new token even though the stored one may still be valid."""

    NO = "no"
    ASKED = "asked"  # a person or a backend asked: at most once per FORCE_REFRESH_INTERVAL
    REJECTED = "rejected"  # Zoho refused the stored token: replace it whatever the interval


class Verdict(StrEnum):
    HAND_OUT = "hand_out"  # the stored access token
    REFRESH = "refresh"  # under the grant's row lock, where the decision is taken again
    REFUSE = "refuse"  # with a stable code (and, for the throttle, a retry-after)


@dataclass(frozen=True)
class GrantSnapshot:
    """What the decision needs of a grant, read by whichever query the caller already ran."""

    status: str
    owner_is_active: bool
    access_token_expires_at: datetime | None
    has_access_token: bool
    last_refreshed_at: datetime | None

    @classmethod
    def of(cls, grant: ZohoGrant) -> "GrantSnapshot":
        return cls(
            status=grant.status,
            owner_is_active=grant.user.is_active,
            access_token_expires_at=grant.access_token_expires_at,
            has_access_token=grant.access_token_encrypted is not None,
            last_refreshed_at=grant.last_refreshed_at,
        )


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    code: str = ""
    retry_after: int | None = None


HAND_OUT = Decision(Verdict.HAND_OUT)
REFRESH = Decision(Verdict.REFRESH)


def decide(
    grant: GrantSnapshot,
    *,
    now: datetime,
    min_valid: timedelta,
    force: Force = Force.NO,
    asked_at: datetime | None = None,
) -> Decision:
    """Hand out the stored token, refresh it, or refuse: the one rule, for every caller.

    Pure (no database, no clock): the API's hot path decides on its own query's row, the
    token service on its hot read and again on the locked row. ``asked_at`` is when the
    caller asked; a forced refresh that committed after it, while this caller waited for the
    lock, is shared instead of repeated.
    """
    if not grant.owner_is_active:
        return Decision(Verdict.REFUSE, OWNER_INACTIVE)
    if grant.status not in lifecycle.HANDS_OUT:
        return Decision(Verdict.REFUSE, str(grant.status))
    if force is Force.NO:
        if _valid_for(grant, now=now, margin=min_valid) or _just_refreshed(grant, now=now):
            return HAND_OUT
        return REFRESH
    last = grant.last_refreshed_at
    if last and asked_at and last >= asked_at and _valid_for(grant, now=now, margin=timedelta(0)):
        return HAND_OUT
    if force is Force.ASKED and last and now - last < FORCE_REFRESH_INTERVAL:
        wait = FORCE_REFRESH_INTERVAL - (now - last)
        return Decision(Verdict.REFUSE, REFRESH_TOO_SOON, int(wait.total_seconds()) + 1)
    return REFRESH


def _just_refreshed(grant: GrantSnapshot, *, now: datetime) -> bool:
    """Refreshed within the throttle's minute and still valid: as fresh as Zoho makes it.

    When Zoho issues tokens shorter than a caller's ``min_valid``, refreshing again cannot
    satisfy it either; the caller gets this token with its true expiry instead of another
    refresh for every call.
    """
    last = grant.last_refreshed_at
    recent = last is not None and now - last < FORCE_REFRESH_INTERVAL
    return recent and _valid_for(grant, now=now, margin=timedelta(0))


def _valid_for(grant: GrantSnapshot, *, now: datetime, margin: timedelta) -> bool:
    expires = grant.access_token_expires_at
    return grant.has_access_token and expires is not None and expires > now + margin
