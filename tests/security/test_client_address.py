"""SC-09, DP-03: the client's address is decided once, and only trusted proxies are believed.

``accounts.client_address`` feeds the audit log, every rate limit and the logs. A forged
``X-Forwarded-For`` from anyone but a configured proxy is ignored; behind a proxy the client
is the right-most address the proxies vouch for.
"""

from typing import Any

import pytest
from django.core.checks import run_checks
from django.test import Client, RequestFactory

from accounts.audit import AuditContext
from accounts.client_address import MOST_PROXY_HOPS, client_address

PROXY = "10.0.0.1"


def address(remote: str, forwarded: str | None = None) -> str:
    meta: dict[str, Any] = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_address(RequestFactory().get("/", **meta))


def test_SC_09_no_trusted_proxy_means_the_peer_is_the_client(settings):
    settings.TRUSTED_PROXIES = []
    assert address("192.0.2.5", "198.51.100.7") == "192.0.2.5"
    assert address(PROXY, "198.51.100.7") == PROXY


@pytest.mark.parametrize(
    ("forwarded", "client"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("6.6.6.6, 198.51.100.7", "198.51.100.7"),  # the client's own claim is ignored
        ("garbage, 198.51.100.7", "198.51.100.7"),  # junk left of the client is the client's
        ("198.51.100.7, 10.0.0.2", "198.51.100.7"),  # a second trusted hop is skipped
        ("198.51.100.7,10.9.9.9 , 10.0.0.2", "198.51.100.7"),
        ("10.0.0.3, 10.0.0.2", "10.0.0.3"),  # only proxies: the farthest one
        ("::ffff:198.51.100.7", "198.51.100.7"),  # one client, one bucket
        ("2001:db8::1", "2001:db8::1"),
    ],
)
def test_SC_09_behind_a_trusted_proxy_the_rightmost_untrusted_hop_is_the_client(
    settings, forwarded, client
):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "fd00::/8"]
    assert address(PROXY, forwarded) == client


@pytest.mark.parametrize(
    "forwarded", ["", "   ", ",", "not-an-address", "garbage, [nope]", "0.0.0.0", "224.0.0.1"]
)
def test_SC_09_a_header_with_no_client_address_falls_back_to_the_peer(settings, forwarded):
    settings.TRUSTED_PROXIES = [PROXY]
    assert address(PROXY, forwarded) == PROXY


@pytest.mark.parametrize(
    ("forwarded", "client"),
    [
        ("198.51.100.7:443", "198.51.100.7"),  # Azure-style address:port
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("1.2.3.4,", "1.2.3.4"),
        ("6.6.6.6, not-an-address, 198.51.100.7", "198.51.100.7"),
        ("198.51.100.7, 2001:db8::9, fd00::2", "2001:db8::9"),  # IPv6 proxies are skipped too
        ("64:ff9b::c633:6407", "198.51.100.7"),  # NAT64 is the IPv4 client
    ],
)
def test_SC_09_ipware_reads_the_forms_proxies_write(settings, forwarded, client):
    """Proxies append ``address:port`` or brackets; ipware reads them instead of giving up."""
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "fd00::/8"]
    assert address(PROXY, forwarded) == client


def test_SC_09_a_spoofed_header_from_an_untrusted_peer_is_never_read(settings):
    """Whatever the header says (a trusted proxy, a neighbour, a long chain), an untrusted peer
    is its own address; the same header from the proxy is believed."""
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    for forged in ["10.0.0.9", "198.51.100.8", "198.51.100.8, 10.0.0.9", "1.1.1.1:80"]:
        assert address("192.0.2.5", forged) == "192.0.2.5"
        assert address("::ffff:192.0.2.5", forged) == "192.0.2.5"
    assert address(PROXY, "198.51.100.8") == "198.51.100.8"


def test_SC_09_a_long_chain_of_trusted_looking_hops_is_walked_a_bounded_way(settings):
    """A client that writes hundreds of proxy addresses gets at most ``MOST_PROXY_HOPS`` read,
    and still cannot name an address outside the proxies' range."""
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    hops = [f"10.0.{i // 250}.{i % 250 + 1}" for i in range(400)]
    got = address(PROXY, ", ".join(["198.51.100.7", *hops]))
    assert got == hops[-MOST_PROXY_HOPS]


def test_SC_09_a_missing_header_from_a_trusted_proxy_is_the_proxy(settings):
    settings.TRUSTED_PROXIES = ["fd00::/8"]
    assert address("fd00::1") == "fd00::1"


def test_SC_09_a_peer_that_is_no_address_gives_no_address():
    assert address("") == ""
    assert AuditContext.from_request(RequestFactory().get("/", REMOTE_ADDR="")).ip_address is None


def test_SC_09_the_audit_context_takes_the_same_address(settings):
    settings.TRUSTED_PROXIES = [PROXY]
    request = RequestFactory().get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert AuditContext.from_request(request).ip_address == "198.51.100.7"


@pytest.mark.django_db
def test_SC_09_the_api_key_failure_limit_counts_per_client_behind_the_proxy(settings):
    settings.TRUSTED_PROXIES = [PROXY]
    settings.API_AUTH_FAILURES_PER_MINUTE = 3

    def attempt(client_ip: str) -> int:
        return (
            Client()
            .get(
                "/api/v1/grants",
                HTTP_AUTHORIZATION="Bearer nope",
                REMOTE_ADDR=PROXY,
                HTTP_X_FORWARDED_FOR=client_ip,
            )
            .status_code
        )

    assert [attempt("198.51.100.7") for _ in range(4)] == [401, 401, 401, 429]
    assert attempt("198.51.100.8") == 401


def test_SC_09_a_trusted_proxy_entry_that_does_not_parse_stops_start_up(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "proxy.internal"]
    assert "portal.E012" in {message.id for message in run_checks()}
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "::1"]
    assert "portal.E012" not in {message.id for message in run_checks()}


def test_DP_03_a_forged_forwarded_proto_does_not_make_plain_http_secure(settings):
    """No proxy is trusted to say the scheme: ``X-Forwarded-Proto: https`` on a plain-HTTP
    request leaves it insecure, so secure-only cookies and HTTPS checks are not fooled."""
    assert settings.SECURE_PROXY_SSL_HEADER is None
    request = RequestFactory().get("/", HTTP_X_FORWARDED_PROTO="https", REMOTE_ADDR=PROXY)
    assert not request.is_secure()
