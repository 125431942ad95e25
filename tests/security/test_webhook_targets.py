"""Issue 16 item 4: where grant events may be sent, and how long an attempt may last
(WH-03, WH-04).

SSRF attempts are made with the private-network allowance off, as in production, against
receivers on this machine that count every connection; slow receivers hold no lock and are cut
off at the attempt's deadline.
"""

import ipaddress
import threading

import pytest
from django.db import connections, transaction
from django.utils import timezone

from accounts.audit import AuditContext
from portal.api.webhooks import addresses, delivery
from portal.api.webhooks.endpoints import EndpointRefused, register_endpoint
from portal.grants import events
from portal.models import WebhookDelivery, WebhookEndpoint, ZohoGrant
from tests.jobs import queued
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)


def emit(grant):
    with transaction.atomic():
        return events.emit(event_type=events.EventType.CONNECTED, grant=grant)


INTERNAL = [
    "https://127.0.0.1/h",
    "https://127.1.2.3/h",
    "https://10.0.0.1/h",
    "https://172.16.5.4/h",
    "https://192.168.1.1/h",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.64.0.1/h",
    "https://0.0.0.0/h",
    "https://[::1]/h",
    "https://[::]/h",
    "https://[::ffff:127.0.0.1]/h",
    "https://[::ffff:169.254.169.254]/h",
    "https://[64:ff9b::7f00:1]/h",
    "https://[2002:7f00:1::]/h",
    "https://[fe80::1]/h",
    "https://[fc00::1]/h",
    "https://[ff02::1]/h",
    "https://224.0.0.1/h",
    "https://localhost/h",
    "https://LOCALHOST./h",
    "https://2130706433/h",  # 127.0.0.1 as one decimal number
    "https://0x7f.1/h",
    "http://93.184.215.14/h",  # a public address, but not https
]


@pytest.mark.parametrize("url", INTERNAL)
def test_WH_03_registration_refuses_internal_addresses_and_http(url, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    with pytest.raises(EndpointRefused) as refused:
        register_endpoint(url=url, events=["grant.connected"], context=AuditContext())
    assert refused.value.code == "webhook_url_refused"
    assert WebhookEndpoint.objects.count() == 0


def test_WH_03_production_refuses_the_private_network_allowance(settings):
    from portal import checks

    settings.DEBUG = False
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    assert "portal.E030" in {m.id for m in checks.check_production_defaults()}
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    assert "portal.E030" not in {m.id for m in checks.check_production_defaults()}


def test_WH_03_the_address_rule_itself():
    public = ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "1.1.1.1"]
    assert all(addresses.is_public(ipaddress.ip_address(a)) for a in public)
    embedded = ["::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe", "2002:c0a8:101::1", "::ffff:0.0.0.0"]
    assert not any(addresses.is_public(ipaddress.ip_address(a)) for a in embedded)


def test_WH_03_the_address_is_checked_again_at_delivery(make_grant, settings):
    """A name that resolved to a public address at registration and points inside now (DNS
    rebinding, or a record changed later) is refused before any connection is made."""
    receiver = Receiver()
    try:
        register_endpoint(  # allowed here: stands for a name that resolved publicly then
            url=receiver.url(host="localhost", scheme="https"),
            events=["grant.connected"],
            context=AuditContext(),
        )
        settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
        emit(make_grant())
        [job] = queued(events.DELIVER_WEBHOOK)
        assert delivery.deliver(**job.args) == "retrying"
        row = WebhookDelivery.objects.get()
        assert row.last_error == "private_address" and row.last_response_code is None
        assert receiver.connections == 0 and receiver.received == []
    finally:
        receiver.close()


def test_WH_03_a_redirect_is_never_followed(make_grant, decoy):
    receiver = Receiver(statuses=[307], location=f"{decoy.url}/internal")
    try:
        register_endpoint(url=receiver.url(), events=["grant.connected"], context=AuditContext())
        emit(make_grant())
        [job] = queued(events.DELIVER_WEBHOOK)
        assert delivery.deliver(**job.args) == "retrying"
        row = WebhookDelivery.objects.get()
        assert (row.last_response_code, row.last_error) == (307, "http_status")
        assert len(receiver.received) == 1 and decoy.hits == []
    finally:
        receiver.close()


def test_WH_04_a_slow_receiver_times_out_holding_no_lock(make_grant, settings):
    """The attempt runs outside any transaction: while the receiver stalls, the grant and the
    delivery row can be locked by others at once (NOWAIT), and the attempt ends at the
    timeout with a retry queued."""
    settings.WEBHOOKS_TIMEOUT_SECONDS = 1.0
    receiver = Receiver(delay=3.0)
    try:
        register_endpoint(url=receiver.url(), events=["grant.connected"], context=AuditContext())
        grant = make_grant()
        emit(grant)
        [job] = queued(events.DELIVER_WEBHOOK)
        outcome: list[str] = []

        def attempt() -> None:
            try:
                outcome.append(delivery.deliver(**job.args))
            finally:
                connections.close_all()

        worker = threading.Thread(target=attempt)
        worker.start()
        from tests.connecting import wait_for

        wait_for(lambda: receiver.received, seconds=5)
        with transaction.atomic():
            ZohoGrant.objects.select_for_update(nowait=True).get(pk=grant.pk)
            WebhookDelivery.objects.select_for_update(nowait=True).get()
        worker.join(timeout=10)
        assert outcome == ["retrying"]
        row = WebhookDelivery.objects.get()
        assert (row.last_error, row.state) == ("timeout", "pending")
        assert row.next_attempt_at is not None and row.next_attempt_at > timezone.now()
    finally:
        receiver.close()


def test_WH_04_a_receiver_dripping_its_answer_is_cut_off_at_the_deadline(make_grant, settings):
    """Each byte comes within the socket timeout, so only the whole attempt's deadline (three
    timeouts) ends it."""
    import socket
    import time

    settings.WEBHOOKS_TIMEOUT_SECONDS = 0.5
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip() -> None:
        peer, _ = listener.accept()
        with peer:
            peer.recv(65536)
            peer.sendall(b"HTTP/1.1 200 OK\r\n")
            while not stop.is_set():
                try:
                    peer.sendall(b"X-Slow: a\r\n")
                except OSError:
                    return
                time.sleep(0.2)

    threading.Thread(target=drip, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/h"
        register_endpoint(url=url, events=["grant.connected"], context=AuditContext())
        emit(make_grant())
        [job] = queued(events.DELIVER_WEBHOOK)
        started = time.monotonic()
        assert delivery.deliver(**job.args) == "retrying"
        assert time.monotonic() - started < 3.0
        assert WebhookDelivery.objects.get().last_error == "timeout"
    finally:
        stop.set()
        listener.close()
