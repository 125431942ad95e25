"""What can go wrong talking to Zoho, in three kinds callers act on."""

import re

_SAFE_CODE = re.compile(r"[^a-z0-9_]+")


def safe_code(value: object, *, limit: int = 40) -> str:
    """A short lowercase code safe to store and log (never a body)."""
    return _SAFE_CODE.sub("_", str(value).lower()).strip("_")[:limit] or "unknown"


class ZohoError(Exception):
    """Base of every Zoho failure. ``code`` is short and safe to store, log and show."""

    def __init__(self, code: str, *, retry_after: int | None = None) -> None:
        self.code = safe_code(code)
        self.retry_after = retry_after
        super().__init__(self.code)


class ZohoRejected(ZohoError):
    """Zoho refused the grant itself (invalid or revoked code or token): do not retry."""


class DeadAuthtoken(ZohoRejected):
    """A legacy authtoken Zoho no longer knows (deleted, expired, never valid, other DC)."""


class WrongOrganization(ZohoRejected):
    """The Desk org id does not belong to the authtoken's user."""


class ZohoUnavailable(ZohoError):
    """Zoho could not answer properly now (timeout, 5xx, throttled, malformed): retry later."""


class ZohoMisconfigured(ZohoError):
    """Our client settings are wrong for Zoho (client id, secret, redirect URI, scope)."""


class UntrustedAccountsServer(ZohoError):
    """A callback named an accounts server or location outside the data-centre table."""
