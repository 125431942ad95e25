"""The fault kinds: what each does, where it works and which parameters it takes, and the
validation of a fault description (from JSON or the control page's form)."""

from dataclasses import dataclass, field
from typing import Any

from sandbox.datacentres import is_data_centre

ENDPOINTS = (
    "auth",
    "token",
    "refresh",
    "revoke",
    "userinfo",
    "serverinfo",
    "desk_organizations",
    "desk_myinfo",
    "authtooauth",
    "desk_tickets",
    "desk_ticket",
)
DESK_ENDPOINTS = tuple(name for name in ENDPOINTS if name.startswith("desk_"))
REQUIRED = object()
MIB = 1024 * 1024


@dataclass(frozen=True)
class Param:
    kind: type
    default: Any = None
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class Kind:
    category: str
    endpoints: tuple[str, ...] = ENDPOINTS
    default_endpoint: str = "all"
    params: dict[str, Param] = field(default_factory=dict)
    help: str = ""


_TEXT = Param(str, "")
KINDS: dict[str, Kind] = {
    "latency": Kind("delay", params={"seconds": Param(float, 1.0, 0, 30)}, help="answer late"),
    "hang": Kind(
        "block",
        params={"seconds": Param(float, 30.0, 0, 60)},
        help="say nothing for `seconds`, then drop the connection",
    ),
    "status": Kind(
        "block",
        params={
            "status": Param(int, 503, 400, 599),
            "body": _TEXT,
            "retry_after": Param(int, None, 0, 86400),
            "content_type": _TEXT,
        },
        help="HTTP error status with an optional body and Retry-After",
    ),
    "reset": Kind("block", help="close the connection without an answer"),
    "malformed_json": Kind("block", help="200 with a truncated JSON body"),
    "html_200": Kind("block", help="200 with an HTML page"),
    "error_200": Kind(
        "block",
        params={"error": Param(str, "invalid_code")},
        help='200 with {"error": ...} (Desk: {"errorCode": ...})',
    ),
    "invalid_code": Kind(
        "block",
        endpoints=("token", "refresh"),
        default_endpoint="refresh",
        help='200 with {"error": "invalid_code"} (as for a revoked refresh token)',
    ),
    "redirect": Kind(
        "block",
        params={"location": Param(str, REQUIRED), "status": Param(int, 302, 300, 399)},
        help="3xx to `location`",
    ),
    "oversized": Kind(
        "block", params={"size": Param(int, 2 * MIB, 1, 32 * MIB)}, help="huge valid JSON body"
    ),
    "gzip_bomb": Kind(
        "block",
        params={"size": Param(int, 256 * MIB, 1, 1024 * MIB)},
        help="200 gzip JSON: small as sent, `size` bytes inflated (compressed while streamed)",
    ),
    "deep_json": Kind(
        "block",
        params={"depth": Param(int, 100_000, 1, 1_000_000)},
        help="200 with JSON nested `depth` arrays deep",
    ),
    "rate_limit": Kind(
        "block",
        params={"status": Param(int, None, 200, 599), "retry_after": Param(int, None, 0, 86400)},
        help="Zoho's Access Denied body (Desk: 429 errorCode TOO_MANY_REQUESTS, with "
        "Retry-After and X-Rate-Limit headers when `retry_after` is given)",
    ),
    "invalid_oauth": Kind(
        "block",
        endpoints=DESK_ENDPOINTS,
        help="Desk: 401 errorCode INVALID_OAUTH (an access token Desk no longer accepts)",
    ),
    "dead_authtoken": Kind(
        "block",
        endpoints=("authtooauth",),
        default_endpoint="authtooauth",
        help='200 with {"error": "invalid_authtoken"} (deleted, expired or unknown authtoken)',
    ),
    "wrong_org": Kind(
        "block",
        endpoints=("authtooauth",),
        default_endpoint="authtooauth",
        help='200 with {"error": "invalid_soid"} (the soid names an org the user is not in)',
    ),
    "drip": Kind(
        "wrap",
        params={"interval": Param(float, 1.0, 0, 5), "chunk": Param(int, 1, 1, 65536)},
        help="send the normal answer `chunk` bytes every `interval` seconds (30 s at most)",
    ),
    "omit_refresh_token": Kind(
        "modify", endpoints=("token",), default_endpoint="token", help="no refresh_token"
    ),
    "api_domain": Kind(
        "modify",
        endpoints=("token", "refresh", "authtooauth"),
        params={"value": Param(str, REQUIRED)},
        help="api_domain of your choice",
    ),
    "token_field": Kind(
        "modify",
        endpoints=("token", "refresh", "authtooauth"),
        params={"field": Param(str, REQUIRED), "value": _TEXT},
        help="set a token answer field to `value` (JSON text; other text as a string); "
        "no value: remove the field",
    ),
    "legacy_expiry": Kind(
        "modify",
        endpoints=("token", "refresh"),
        help="old format: expires_in in milliseconds plus expires_in_sec",
    ),
    "rotate_refresh_token": Kind(
        "modify",
        endpoints=("refresh",),
        default_endpoint="refresh",
        help="refresh answers a new refresh_token and kills the old one",
    ),
    "callback_accounts_server": Kind(
        "modify",
        endpoints=("auth",),
        default_endpoint="auth",
        params={"value": Param(str, REQUIRED)},
        help="callback names this accounts-server",
    ),
    "callback_location": Kind(
        "modify",
        endpoints=("auth",),
        default_endpoint="auth",
        params={"value": Param(str, REQUIRED)},
        help="callback names this location",
    ),
    "callback_error": Kind(
        "modify",
        endpoints=("auth",),
        default_endpoint="auth",
        params={"error": Param(str, "server_error"), "description": _TEXT},
        help="Accept answers the callback with error=... instead of a code",
    ),
    "grant_scope": Kind(
        "modify",
        endpoints=("auth",),
        default_endpoint="auth",
        params={"value": Param(str, REQUIRED)},
        help="the code (and its tokens) carry this scope instead of the requested one",
    ),
}


class FaultInvalid(ValueError):
    """A fault description that cannot be stored; ``errors`` maps field to message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


def clean_fault(data: dict[str, Any]) -> dict[str, Any]:
    """Validate a fault description (JSON or form data) into model field values."""
    errors: dict[str, str] = {}
    kind_name = str(data.get("kind") or "")
    kind = KINDS.get(kind_name)
    if kind is None:
        raise FaultInvalid({"kind": f"one of {', '.join(KINDS)}"})
    dc = str(data.get("dc") or "")
    if dc in ("all", "*"):
        dc = ""
    if dc and not is_data_centre(dc):
        errors["dc"] = "unknown data centre"
    endpoint = str(data.get("endpoint") or kind.default_endpoint)
    if endpoint != "all" and endpoint not in kind.endpoints:
        errors["endpoint"] = f"{kind_name} works on: all, {', '.join(kind.endpoints)}"
    zuid = str(data.get("zuid") or "")
    if zuid and not zuid.isdigit():
        errors["zuid"] = "a numeric ZUID"
    count = _number(data.get("count"), int, 1, 100000, "count", errors)
    raw_params = {**data, **(data.get("params") or {})}
    params = {}
    for name, spec in kind.params.items():
        value = _param(raw_params.get(name), spec, name, errors)
        if value is not None:
            params[name] = value
    if errors:
        raise FaultInvalid(errors)
    return {
        "kind": kind_name,
        "data_centre": dc,
        "endpoint": endpoint,
        "zuid": zuid,
        "remaining": count,
        "params": params,
    }


def _number(
    value: Any, kind: type, low: float | None, high: float | None, name: str, errors: dict[str, str]
) -> Any:
    if value in (None, ""):
        return None
    try:
        number = kind(value)
    except (TypeError, ValueError):
        errors[name] = f"a {kind.__name__}"
        return None
    if (low is not None and number < low) or (high is not None and number > high):
        errors[name] = f"between {low} and {high}"
        return None
    return number


def _param(value: Any, spec: Param, name: str, errors: dict[str, str]) -> Any:
    if value in (None, ""):
        if spec.default is REQUIRED:
            errors[name] = "required"
            return None
        return spec.default
    if spec.kind is str:
        text = str(value)
        if len(text) > 20000 or "\x00" in text:
            errors[name] = "too long or contains NUL"
        return text
    return _number(value, spec.kind, spec.low, spec.high, name, errors)
