"""The client's address, decided once for the audit log, the rate limits and the logs.

``REMOTE_ADDR`` is the client unless the direct peer is one of ``TRUSTED_PROXIES`` (addresses
or networks; empty by default, so nobody is trusted). Behind a trusted proxy the client is the
right-most ``X-Forwarded-For`` entry that is not itself a trusted proxy: entries to its right
were appended by proxies that are trusted, entries to its left were written by the client and
prove nothing. A forged header from an untrusted peer is ignored, so it can neither dodge a
limit nor put its hits on someone else's address.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

type Address = ipaddress.IPv4Address | ipaddress.IPv6Address
type Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_address(request: HttpRequest) -> str:
    """The client's IP address as text, or "" when the peer's own address is not an address."""
    peer = _parse(request.META.get("REMOTE_ADDR", ""))
    if peer is None:
        return ""
    proxies = trusted_proxies(tuple(settings.TRUSTED_PROXIES))
    if not _is_trusted(peer, proxies):
        return str(peer)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",")] if forwarded.strip() else []
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            return str(peer)  # a malformed hop a trusted proxy vouches for: trust only the peer
        if not _is_trusted(address, proxies):
            return str(address)
    # Only trusted proxies (or no header): the farthest one seen is the best guess.
    return str(_parse(hops[0])) if hops else str(peer)


@lru_cache(maxsize=4)
def trusted_proxies(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """``TRUSTED_PROXIES`` as networks; raises ValueError on an entry that is neither an
    address nor a network (``portal.E012`` reports it at start-up)."""
    return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip())


def _is_trusted(address: Address, proxies: tuple[Network, ...]) -> bool:
    return any(address in network for network in proxies)


def _parse(text: str) -> Address | None:
    """An address from bare text; None for anything else (ports, brackets, names, junk)."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # one client, one bucket, whichever socket family it used
    return address
