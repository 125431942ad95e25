"""The client's address, decided once for the audit log, the rate limits and the logs.

``REMOTE_ADDR`` is the client unless the direct peer is one of ``TRUSTED_PROXIES`` (addresses
or networks; empty by default, so nobody is trusted). Only then is ``X-Forwarded-For`` read, by
django-ipware, and the client is the right-most entry that is not itself a trusted proxy:
entries to its right were appended by proxies that are trusted, entries to its left were written
by the client and prove nothing. A forged header from an untrusted peer is never read, so it can
neither dodge a limit nor put its hits on someone else's address.

ipware reads the header leniently (ports, brackets and IPv4-mapped forms are understood, entries
that are no address are skipped): real proxies append the socket address they saw, so what it
skips can only have been written by the client, left of the hop that decides.
"""

import ipaddress
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ipware import get_client_ip

type Address = ipaddress.IPv4Address | ipaddress.IPv6Address
type Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# A client can write any number of trusted-looking entries; walking them is bounded.
MOST_PROXY_HOPS = 16


def client_address(request: HttpRequest) -> str:
    """The client's IP address as text, or "" when the peer's own address is not an address."""
    peer = _parse(request.META.get("REMOTE_ADDR", ""))
    if peer is None:
        return ""
    proxies = trusted_proxies(tuple(settings.TRUSTED_PROXIES))
    if not _is_trusted(peer, proxies):
        return str(peer)
    client = peer
    for behind in range(MOST_PROXY_HOPS):
        hop = _forwarded_hop(request, behind=behind)
        if hop is None:
            break  # no such entry: the farthest proxy seen is the best guess
        client = hop
        if not _is_trusted(hop, proxies):
            break
    return str(client)


def client_address_of(environ: Mapping[str, Any]) -> str:
    """:func:`client_address` for code that holds a WSGI environ but no request (gunicorn's
    access log): the same rule, read from the same keys ``request.META`` has."""
    request = HttpRequest()
    request.META = dict(environ)
    return client_address(request)


@lru_cache(maxsize=4)
def trusted_proxies(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """``TRUSTED_PROXIES`` as networks; raises ValueError on an entry that is neither an
    address nor a network (``portal.E012`` reports it at start-up)."""
    return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip())


def _forwarded_hop(request: HttpRequest, *, behind: int) -> Address | None:
    """The ``X-Forwarded-For`` entry with ``behind`` entries to its right, as ipware reads it
    (only that header; None when there is no such entry or it cannot be a client)."""
    ip, _routable = get_client_ip(
        request,
        proxy_count=behind,
        request_header_order=("HTTP_X_FORWARDED_FOR",),
        strict=False,
        algorithm="modern",
    )
    return None if ip is None else _parse(ip)


def _is_trusted(address: Address, proxies: tuple[Network, ...]) -> bool:
    return any(address in network for network in proxies)


def _parse(text: str) -> Address | None:
    """An address from the socket's bare text; None for anything else."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # one client, one bucket, whichever socket family it used
    return address
