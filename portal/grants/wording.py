"""How each grant code reads to people: one wording per code, everywhere.

Owner pages, staff pages, emails and the token API all take their words from here, so one
code never reads two ways. Each mapping goes from a stable code (a status key, a warning
kind, a stored error code, a connect failure reason, a token refusal code, an audit action)
to its words; each lookup gives a safe sentence for a code nobody worded yet.
"""

from django.conf import settings

from accounts.models import AuditEvent
from portal.models import ZohoGrant

Status = ZohoGrant.Status
Kind = ZohoGrant.Warning
Action = AuditEvent.Action

# What a person sees as the grant's state: the stored statuses, plus "idle" (active, but no
# live access token right now).
STATUS_LABELS: dict[str, str] = {
    Status.ACTIVE: "Active",
    "idle": "Idle",
    Status.TROUBLE: "Upstream trouble",
    Status.NEEDS_RECONNECT: "Needs reconnect",
    Status.REVOKING: "Revoking",
    Status.REVOKED: "Revoked",
}

WARNING_LABELS: dict[str, str] = {
    Kind.REPEATED_FAILURES: "Warning: repeated failures",
    Kind.TOKEN_CAP: "Warning: Zoho's connection limit is near",
}

# Stored ``last_error`` codes, and the codes a connection test meets.
ERROR_WORDS = {
    "timeout": "Zoho did not answer in time.",
    "connection_failed": "Zoho could not be reached.",
    "tls_error": "Zoho's server certificate could not be verified.",
    "throttled": "Zoho asked us to slow down (too many token requests).",
    "malformed_response": "Zoho sent an answer we could not read.",
    "response_too_large": "Zoho sent an unexpectedly large answer.",
    "invalid_code": "Zoho no longer accepts this grant: it was revoked in Zoho, or replaced "
    "because the Zoho user passed Zoho's limit of 20 connections per app.",
    "invalid_grant": "Zoho no longer accepts this grant.",
    "invalid_token": "Zoho no longer accepts this grant.",
    "invalid_client": "The portal's Zoho client was changed or removed.",
    "invalid_client_secret": "The portal's Zoho client secret was changed.",
    "token_unreadable": "The stored token could not be decrypted.",
    "invalid_oauth": "Zoho Desk rejected the access token.",
    "scope_mismatch": "The grant lacks a permission Zoho Desk needs.",
    # Organization-level refusals: reported by a check, they never condemn the grant itself.
    "oauth_org_mismatch": "Zoho Desk does not let this grant into that organization.",
    "unauthorized": "Zoho Desk refused this agent access to that organization.",
}
SERVER_ERROR_WORDS = "Zoho answered with a server error."  # any ``http_5xx`` code
UNKNOWN_ERROR_WORDS = "Zoho answered unexpectedly."
REJECTED_WORDS = "Zoho rejected the grant."  # Needs reconnect with no stored reason

# Why a connection could not be made (``ConnectFailed.reason``; the first four are
# ``oauth_state.StateError`` reasons, ``invalid_callback`` is a callback that fails its form).
CONNECT_FAILURES = {
    "missing": "That sign-in link is not complete. Please start connecting again.",
    "unknown": "That sign-in link does not belong to this session. Please start again.",
    "used": "That sign-in link was already used. Your connections are listed below.",
    "expired": "That sign-in link expired (they last 10 minutes). Please start again.",
    "invalid_callback": "The answer from Zoho was not valid. Please start again.",
    # Zoho answers access_denied both for Deny and when its grant-code limit (about 10 codes
    # per 10 minutes per client) is hit; the callback cannot tell the two apart.
    "declined": "You declined on Zoho's page, or Zoho turned the request away because too many "
    "connections were started in the last few minutes (Zoho limits how many sign-in codes it "
    "issues). Nothing was connected; if you did not decline, wait ten minutes and try again.",
    "provider_error": "Zoho reported a problem and nothing was connected. Please try again.",
    "no_code": "Zoho's answer was incomplete, so nothing was connected. Please try again.",
    "untrusted_server": "We could not complete the connection: Zoho's answer named a server "
    "we do not recognise.",
    "rejected": "Zoho did not accept the sign-in. Please start connecting again.",
    "unavailable": "Zoho did not answer properly, so nothing was connected. Please try again "
    "in a moment.",
    # Zoho refused the portal's own client (its id, secret or redirect URI): our mistake.
    "misconfigured": "Desk Connect's own settings for Zoho are not right in your data centre, "
    "so nothing was connected. This is not something you did: our staff have been told and "
    "are fixing it. Please try again later.",
    "no_refresh_token": "Zoho did not grant offline access, so the connection could not be kept. "
    "Please try again and allow access.",
    "scope_missing": "Zoho gave the app only part of the access it needs, so nothing was "
    "connected. Please connect again and leave every permission on Zoho's page allowed.",
}
UNKNOWN_CONNECT_FAILURE = "The connection could not be made. Please start again."

# Why no token was handed out (``GrantError.code``); the owner's pages and the API's problem
# titles both read these.
REFUSALS: dict[str, str] = {
    Status.NEEDS_RECONNECT: "Zoho no longer accepts this grant; reconnect it.",
    Status.REVOKING: "This connection is being revoked; no token is handed out.",
    Status.REVOKED: "This connection was revoked.",
    "user_inactive": "The owner of this connection is deactivated; no token is handed out.",
    "busy": "Another request is refreshing this connection; try again in a moment.",
    "upstream_unavailable": "Zoho could not give us a fresh token just now; we will retry.",
    "token_unreadable": "The stored token could not be decrypted; reconnect this account.",
    "portal_misconfigured": "Desk Connect has a configuration problem with Zoho in this data "
    "centre that is being fixed; the connection itself is fine. Try again later.",
    "refresh_too_soon": "Already refreshed moments ago: the current token is fine.",
}
UNKNOWN_REFUSAL = "The connection cannot be used just now."

# A grant in a data centre where Zoho rejects the portal's own client, on the owner's pages.
PORTAL_MISCONFIGURED_WORDS = (
    "Desk Connect has a configuration problem with Zoho in this data centre, and it is being "
    "fixed. Your connection is fine and you do not need to reconnect; access tokens are "
    "refreshed again as soon as it is fixed."
)

EVENT_LABELS: dict[str, str] = {
    Action.CONNECT_STARTED: "Connection started",
    Action.CONNECTED: "Connected",
    Action.CONNECT_FAILED: "Connection failed",
    Action.RECONNECTED: "Reconnected",
    Action.CONNECT_MERGED: "Connected again at the same moment: merged into this connection",
    Action.SUPERSEDED_TOKEN_REVOKED: "Replaced token revoked at Zoho",
    Action.SUPERSEDED_TOKEN_REVOKE_FAILED: "Replaced token could not be revoked",
    Action.TESTED: "Connection tested",
    Action.REFRESHED: "Access token refreshed",
    Action.REFRESH_FAILED: "Refresh failed",
    Action.REVOKE_REQUESTED: "Revocation requested",
    Action.REVOKED: "Revoked",
    Action.REVOKE_FAILED: "Revocation not confirmed by Zoho yet",
    Action.HIDDEN: "Removed from the list",
    Action.WARNING_RAISED: "Warning shown",
    Action.WARNING_CLEARED: "Warning cleared",
    Action.USER_LOGIN_FAILED: "Log-in failed",
    Action.CONNECT_SESSION_FINISHED: "Connection through the app's link finished",
    Action.GRANT_MIGRATED: "Brought over from the app's earlier authorization",
    Action.CLIENT_REJECTED: "Zoho rejected the portal's client in a data centre",
    Action.CLIENT_RECOVERED: "Zoho accepts the portal's client again in a data centre",
}


def status_label(key: str) -> str:
    """The label of a status key (a stored status or ``idle``); the key itself if unknown."""
    return STATUS_LABELS.get(key, key)


def warning_label(kind: str) -> str:
    """The label of a warning kind; "" for no warning or an unknown kind."""
    return WARNING_LABELS.get(kind, "")


def warning_words(kind: str) -> str:
    """A plain explanation of an early warning (``ZohoGrant.Warning``); no names in it."""
    if kind == Kind.REPEATED_FAILURES:
        failures = int(settings.UPKEEP_WARNING_FAILURES)
        hours = f"{float(settings.UPKEEP_WARNING_WINDOW_HOURS):g}"
        return (
            f"Zoho failed {failures} or more times within {hours} hours for this connection "
            "(timeouts, server errors or throttling). It still works, but it may be about to "
            "break. The warning goes away once it has worked without failing for that long."
        )
    if kind == Kind.TOKEN_CAP:
        return (
            "Zoho keeps at most 20 connections per Zoho user for this app, and this Zoho "
            "account is close to that limit through Desk Connect (your connections and those of "
            "anyone else using the same Zoho account). When a connection beyond 20 is made, Zoho "
            "silently drops the oldest one first. Revoke connections of this Zoho account that "
            "are no longer needed."
        )
    return ""


def repeated_failures_facts(*, failures: int) -> str:
    """What was seen when repeated failures raised the warning, for the owner's email."""
    hours = f"{float(settings.UPKEEP_WARNING_WINDOW_HOURS):g}"
    return f"Zoho failed {failures} times for this connection in the last {hours} hours."


def token_cap_facts(*, held: int, cap: int, is_oldest: bool) -> str:
    """What was seen when Zoho's token cap came near, for the owner's email."""
    which = (
        "This connection is the oldest of them, so it is the first one Zoho will drop."
        if is_oldest
        else "Zoho drops the oldest connection first; this one is not the oldest."
    )
    return (
        f"This Zoho account has {held} connections to this app through "
        f"Desk Connect (Zoho keeps at most {cap}). {which}"
    )


def error_words(code: str) -> str:
    """A plain sentence for a stored error code; "" for no code."""
    if code.startswith("http_5"):
        return SERVER_ERROR_WORDS
    return ERROR_WORDS.get(code, UNKNOWN_ERROR_WORDS) if code else ""


def rejection_words(code: str) -> str:
    """Why Zoho no longer accepts a grant: its stored error, or a plain rejection."""
    return error_words(code) or REJECTED_WORDS


def connect_failure(reason: str) -> str:
    """What the person connecting is told for a connect failure reason."""
    return CONNECT_FAILURES.get(reason, UNKNOWN_CONNECT_FAILURE)


def refusal_message(code: str, *, retry_after: int | None = None) -> str:
    """Why a grant hands out no token, for a ``GrantError`` code, and when to try again."""
    words = REFUSALS.get(code, UNKNOWN_REFUSAL)
    if code == "refresh_too_soon" and retry_after:
        plural = "s" if retry_after != 1 else ""
        words += f" You can refresh again in {retry_after} second{plural}."
    return words


def event_label(action: str) -> str:
    """The plain label of an audit action; "" when the action code has none."""
    return EVENT_LABELS.get(action, "")
