"""What a grant's status means right now, computed in one place from stored state and clock.

Views and templates get :class:`GrantRow` values ready to display; they never see a model
instance with ciphertext and never do date arithmetic.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from portal.grants import lifecycle
from portal.grants.wording import (
    PORTAL_MISCONFIGURED_WORDS,
    error_words,
    rejection_words,
    status_label,
    warning_label,
    warning_words,
)
from portal.models import ZohoGrant

Status = ZohoGrant.Status

ICONS = {
    "active": "✓",
    "idle": "○",
    "trouble": "⚠",
    "needs_reconnect": "✕",
    "revoking": "↻",
    "revoked": "—",
}


@dataclass(frozen=True)
class GrantRow:
    id: UUID
    title: str
    organizations: str
    zoho_email: str
    zoho_user_id: str
    display_name: str
    data_centre: str
    scopes: list[str]
    status_key: str
    status_label: str
    status_icon: str
    status_detail: str
    connected_at: datetime | None
    last_used_at: datetime | None
    last_refreshed_at: datetime | None
    access_token_expires_at: datetime | None
    revoked_at: datetime | None
    can_test: bool
    can_refresh: bool
    can_reconnect: bool
    can_revoke: bool
    can_hide: bool
    warning_key: str = ""
    warning_label: str = ""
    warning_text: str = ""


def minutes_text(seconds: float) -> str:
    minutes = max(int(seconds // 60), 0)
    if minutes < 1:
        return "for less than a minute more"
    return f"for {minutes} more minute{'s' if minutes != 1 else ''}"


def _status(grant: ZohoGrant, now: datetime) -> tuple[str, str]:
    """(key, detail) of the status a person should see."""
    if grant.status == Status.ACTIVE:
        expires = grant.access_token_expires_at
        if expires and expires > now:
            return "active", f"Access token valid {minutes_text((expires - now).total_seconds())}."
        proven = grant.last_refreshed_at
        when = f"{proven:%d %b %Y, %H:%M} UTC" if proven else "connection time"
        return "idle", f"No live access token; the grant was last proven good at {when}."
    if grant.status == Status.TROUBLE:
        return "trouble", f"{error_words(grant.last_error)} Retrying."
    if grant.status == Status.NEEDS_RECONNECT:
        return "needs_reconnect", rejection_words(grant.last_error)
    if grant.status == Status.REVOKING:
        return (
            "revoking",
            "Revocation asked for; waiting for Zoho to confirm. No token is handed out.",
        )
    who = grant.revoked_by_repr or "Desk Connect"
    when = f"{grant.revoked_at:%d %b %Y, %H:%M} UTC" if grant.revoked_at else "an unknown time"
    return "revoked", f"Revoked on {when} by {who}."


def _warning(grant: ZohoGrant, live: bool) -> dict[str, str]:
    label = warning_label(grant.warning)
    if not live or not label:
        return {}
    since = f" Since {grant.warning_since:%d %b %Y, %H:%M} UTC." if grant.warning_since else ""
    return {
        "warning_key": grant.warning,
        "warning_label": label,
        "warning_text": warning_words(grant.warning) + since,
    }


def grant_row(grant: ZohoGrant, *, now: datetime, client_rejected: bool = False) -> GrantRow:
    """The display row; ``client_rejected``: Zoho rejects the portal's own client in the
    grant's data centre (the portal's problem, said plainly, not the grant's)."""
    key, detail = _status(grant, now)
    live = grant.status in lifecycle.HANDS_OUT
    if live and client_rejected:
        detail = PORTAL_MISCONFIGURED_WORDS
    orgs = ", ".join(org.get("name") or org.get("id", "") for org in grant.organizations)
    return GrantRow(
        id=grant.pk,
        title=orgs or grant.zoho_email or grant.zoho_user_id,
        organizations=orgs,
        zoho_email=grant.zoho_email,
        zoho_user_id=grant.zoho_user_id,
        display_name=grant.display_name,
        data_centre=grant.data_centre.upper(),
        scopes=[scope for scope in grant.scope.split(",") if scope],
        status_key=key,
        status_label=status_label(key),
        status_icon=ICONS[key],
        status_detail=detail,
        connected_at=grant.connected_at,
        last_used_at=grant.last_used_at,
        last_refreshed_at=grant.last_refreshed_at,
        access_token_expires_at=grant.access_token_expires_at if key == "active" else None,
        revoked_at=grant.revoked_at,
        can_test=live,
        can_refresh=live,
        can_reconnect=key != "revoking",
        can_revoke=key not in ("revoked",),
        can_hide=key == "revoked",
        **_warning(grant, live),
    )
