"""Connecting a Zoho Desk account, end to end over real HTTP against the sandbox.

The security checklist's cases about connecting (OA-*) live in tests/security/test_oauth_flow.py.
"""

import pytest

from accounts.models import AuditEvent
from portal.models import ZohoGrant
from tests.cast import CA, CN, EU, US
from tests.connecting import secrets_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("zuid", "region", "dc", "org"),
    [
        (US, "global", "us", "Analytical Engines"),
        (EU, "global", "eu", "Example Support"),
        (CA, "global", "ca", "Pulse Service"),
        (CN, "cn", "cn", "长城客服"),
    ],
)
def test_connect_stores_an_encrypted_grant_in_the_users_data_centre(
    portal, sandbox, alice, zuid, region, dc, org
):
    response = portal.connect(zuid, region=region)
    assert response.status_code == 303
    grant = ZohoGrant.objects.get(user=alice)
    assert response["Location"] == f"/connections/{grant.pk}/"
    assert (grant.data_centre, grant.zoho_user_id, grant.status) == (dc, zuid, "active")
    assert grant.accounts_server == sandbox.accounts_url(dc)
    assert org in [o["name"] for o in grant.organizations]
    calls = [(r["dc"], r["endpoint"]) for r in sandbox.requests() if r["endpoint"] != "auth"]
    assert calls == [(dc, "token"), (dc, "userinfo"), (dc, "desk_organizations")]
    page = portal.client.get(response["Location"]).content.decode()
    assert org in page and dc.upper() in page
    listing = portal.client.get("/connections/").content.decode()
    assert org in listing
    assert AuditEvent.objects.filter(action="grant.connected", grant_id=grant.pk).count() == 1


@pytest.mark.parametrize("endpoint", ["userinfo", "desk_organizations"])
def test_identity_failures_store_nothing_and_give_the_new_token_back(portal, sandbox, endpoint):
    sandbox.add_fault("status", endpoint=endpoint, status=500)
    assert portal.connect(EU)["Location"] == "/connections/failed/"
    assert not ZohoGrant.objects.exists()
    # The code exchange worked: the refresh token Zoho minted is revoked, not left alive.
    revokes = [r for r in sandbox.requests() if r["endpoint"] == "revoke"]
    assert len(revokes) == 1 and revokes[0]["status"] == 200
    assert not [g for g in sandbox.grants(zuid=EU) if g["active"]]


def test_reconnecting_the_same_zoho_user_updates_in_place_and_revokes_the_old_token(
    portal, sandbox, alice
):
    portal.connect(EU)
    grant = ZohoGrant.objects.get(user=alice)
    old_refresh, _ = secrets_of(grant)
    response = portal.connect(EU)
    assert response["Location"] == f"/connections/{grant.pk}/"
    assert ZohoGrant.objects.filter(user=alice).count() == 1
    new_refresh, _ = secrets_of(grant)
    assert new_refresh != old_refresh
    revokes = [r for r in sandbox.requests() if r["endpoint"] == "revoke"]
    assert len(revokes) == 1 and revokes[0]["status"] == 200
    live = [g for g in sandbox.grants(zuid=EU) if g["active"]]
    assert len(live) == 1
    actions = list(AuditEvent.objects.filter(grant_id=grant.pk).values_list("action", flat=True))
    assert "grant.reconnected" in actions and "grant.superseded_token_revoked" in actions
