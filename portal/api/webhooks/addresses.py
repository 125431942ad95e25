"""Which webhook URLs and addresses the portal may send to (the SSRF rule, written once).

A URL must be ``https`` with a host and no user info; every address its host resolves to must
be public: not private, loopback, link-local, multicast, reserved, unspecified or shared, in
IPv4 or IPv6, and not an IPv4 address wrapped in IPv6 (``::ffff:127.0.0.1``, NAT64
``64:ff9b::/96``, 6to4) that is one of those. The rule is checked when an endpoint is
registered and again for each attempt, on the addresses resolved for that attempt, which are
the only ones the client then connects to (``portal.api.webhooks.client``): a name that
changes its answer between the check and the connection (DNS rebinding) gains nothing.
``WEBHOOKS_ALLOW_PRIVATE_NETWORKS`` lifts the address rule and allows ``http`` (development
and tests, whose receivers run on this machine).
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from django.conf import settings

MAX_URL_LENGTH = 2000
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class UnsafeTarget(Exception):
    """A URL or address the portal refuses to send to; ``code`` is stable and safe to show."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(code)


@dataclass(frozen=True)
class Target:
    """Where one attempt goes: the URL's parts and the one address to connect to."""

    scheme: str
    host: str
    port: int
    path: str  # with the query, as sent on the request line
    address: str


def private_networks_allowed() -> bool:
    return bool(settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS)


def check_url(url: str) -> SplitResult:
    """The parsed URL, or :class:`UnsafeTarget` for one that may never be an endpoint."""
    if len(url) > MAX_URL_LENGTH or any(ord(char) < 33 for char in url):
        raise UnsafeTarget("invalid_url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port out of range raises here)
    except ValueError:
        raise UnsafeTarget("invalid_url") from None
    allowed = {"https", "http"} if private_networks_allowed() else {"https"}
    if parts.scheme not in allowed:
        raise UnsafeTarget("https_required")
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise UnsafeTarget("invalid_url")
    if parts.fragment:
        raise UnsafeTarget("invalid_url")
    return parts


def is_public(address: IPAddress) -> bool:
    """Whether an address is one the portal may reach (see the module's docstring)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not is_public(embedded):
            return False
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
    )


def resolve(url: str) -> Target:
    """Check ``url`` and resolve its host now; the target names the address to connect to.

    Every address the name resolves to must be public (one private answer refuses the URL,
    so a round-robin of one public and one internal address cannot slip through).
    """
    parts = check_url(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeTarget("unresolvable_host") from None
    addresses = [ipaddress.ip_address(str(answer[4][0]).partition("%")[0]) for answer in answers]
    if not addresses:
        raise UnsafeTarget("unresolvable_host")
    if not private_networks_allowed() and not all(is_public(found) for found in addresses):
        raise UnsafeTarget("private_address")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(parts.scheme, host, port, path, str(addresses[0]))
