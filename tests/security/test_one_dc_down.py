"""UP-10: one data centre is down (its accounts server refuses connections); the rest work.

Alice holds a real EU grant and a real US grant, both connected through the sandbox. Then
EU's accounts server is pointed at a port where nothing listens. EU refreshes and checks fail
as transient (Upstream trouble, a still-valid token still handed out, never Needs reconnect),
nothing is sent to another data centre's host instead, US grants keep refreshing and the
API keeps serving them, and staff find the EU grants in trouble by status and data centre.
"""

import re
import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.api.keys import create_service_key
from portal.models import ZohoGrant
from portal.upkeep.sweeps import CheckOutcome, check_grant
from tests.cast import EU
from tests.staff_permissions import client_for, give

pytestmark = pytest.mark.django_db(transaction=True)
US = "10000001"  # the sandbox's us user (sandbox/seed.py)


@pytest.fixture
def eu_down(settings):
    """EU's accounts server at a bound port that does not listen: every connect is refused."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    url = f"http://127.0.0.1:{port}/sandbox/eu/accounts"
    settings.ZOHO_DC_ACCOUNTS_URLS = {**settings.ZOHO_DC_ACCOUNTS_URLS, "eu": url}
    yield
    closed.close()


@pytest.fixture
def both(portal, alice):
    """Alice's real grants in EU and in the US."""
    assert portal.connect(EU).status_code == 303
    assert portal.connect(US).status_code == 303
    grants = {g.data_centre: g for g in ZohoGrant.objects.filter(user=alice)}
    assert set(grants) == {"eu", "us"}
    return grants


def expires_in(grant, delta):
    """The access token expires ``delta`` from now; it was refreshed long enough ago to be due."""
    now = timezone.now()
    ZohoGrant.objects.filter(pk=grant.pk).update(
        access_token_expires_at=now + delta, last_refreshed_at=now - timedelta(minutes=30)
    )


def test_UP_10_eu_refused_is_transient_while_us_keeps_refreshing(client, both, sandbox, eu_down):
    raw = create_service_key(name="desk app")[1]

    def ask(grant):
        return client.post(
            f"/api/v1/grants/{grant.pk}/access-token",
            data="{}",
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {raw}",
        )

    sent_before = len(sandbox.requests())
    eu, us = both["eu"], both["us"]
    expires_in(eu, timedelta(minutes=2))  # due for a refresh, still valid
    expires_in(us, timedelta(minutes=-1))  # expired: only a refresh serves it

    still_valid = ask(eu)
    assert still_valid.status_code == 200  # usable with trouble: the valid token is served
    eu.refresh_from_db()
    assert (eu.status, eu.last_error) == (ZohoGrant.Status.TROUBLE, "connection_failed")

    refreshed = ask(us)
    assert refreshed.status_code == 200
    us.refresh_from_db()
    assert us.status == ZohoGrant.Status.ACTIVE and us.access_token_expires_at > timezone.now()

    expires_in(eu, timedelta(minutes=-1))
    ZohoGrant.objects.filter(pk=eu.pk).update(retry_at=None)  # the back-off is over
    gone = ask(eu)
    assert gone.status_code == 503 and gone.json()["code"] == "upstream_unavailable"
    eu.refresh_from_db()
    assert eu.status == ZohoGrant.Status.TROUBLE  # never condemned for an outage

    # No fallback: the only token request that reached any sandbox host was the US refresh.
    sent = [(r["dc"], r["endpoint"]) for r in sandbox.requests()[sent_before:]]
    assert [call for call in sent if call[1] in ("token", "refresh")] == [("us", "refresh")]


def test_UP_10_checks_fail_as_trouble_in_eu_only_and_staff_see_it(both, sandbox, eu_down, staff):
    eu, us = both["eu"], both["us"]
    for grant in (eu, us):
        expires_in(grant, timedelta(minutes=-1))
    assert check_grant(grant_id=eu.pk) is CheckOutcome.TROUBLE
    assert check_grant(grant_id=us.pk) is CheckOutcome.HEALTHY
    statuses = dict(ZohoGrant.objects.values_list("data_centre", "status"))
    assert statuses == {"eu": ZohoGrant.Status.TROUBLE, "us": ZohoGrant.Status.ACTIVE}

    give(staff, "view_all_grants")
    page = client_for(staff).get("/staff/grants/", {"status": "trouble"}).content.decode()
    assert re.findall(r'href="/staff/grants/([0-9a-f-]{36})/"', page) == [str(eu.pk)]
    detail = client_for(staff).get(f"/staff/grants/{eu.pk}/").content.decode()
    assert "Zoho could not be reached." in detail
