"""Where a connect session may send the customer back: the one rule for ``return_url``.

``CONNECT_RETURN_URL_ALLOWLIST`` names origins (``https://app.example.com``) or URL prefixes
(``https://app.example.com/desk/``). A return URL is allowed only when its scheme, host and
port equal an entry's exactly and its path lies under the entry's path; anything that a
browser might read differently from this parser (user info, backslashes, control characters,
spaces, percent signs in the host) is refused outright. Checked when the session is created,
so the portal never redirects anywhere else.
"""

from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings

MAX_LENGTH = 2000
_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_allowed(url: str) -> bool:
    """True when ``url`` is a clean absolute URL under one of the allowlist's entries."""
    parts = _strict_parts(url)
    if parts is None:
        return False
    for entry in settings.CONNECT_RETURN_URL_ALLOWLIST:
        allowed = _strict_parts(entry.strip())
        if allowed is not None and _origin(allowed) == _origin(parts):
            prefix = allowed.path
            if not prefix or prefix == "/" or parts.path == prefix:
                return True
            if parts.path.startswith(prefix if prefix.endswith("/") else prefix + "/"):
                return True
    return False


def with_outcome(url: str, **params: str) -> str:
    """``url`` with ``params`` added to its query (replacing same-named ones)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query += list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def _strict_parts(url: str) -> SplitResult | None:
    if not url or len(url) > MAX_LENGTH or not url.isascii() or not url.isprintable():
        return None
    if any(char in url for char in " \\\t\r\n"):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    if "@" in parts.netloc or "%" in parts.netloc or parts.netloc.endswith(":"):
        return None
    del port
    path = parts.path.lower()
    if "/." in path or any(code in path for code in ("%2e", "%2f", "%5c")):
        return None  # dot segments a browser would resolve out of the allowed prefix
    return parts


def _origin(parts: SplitResult) -> tuple[str, str, int]:
    port = parts.port or _DEFAULT_PORTS[parts.scheme]
    return parts.scheme, (parts.hostname or "").lower().rstrip("."), port
