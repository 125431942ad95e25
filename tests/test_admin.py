"""AC-09: every model in the Django admin renders for a superuser and shows no secret, not even
its ciphertext or digest; the admin changes nothing that the services should change."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.utils import timezone

from accounts.audit import record_event
from accounts.models import AuditEvent, RateCounter
from portal import tasks
from portal.api.keys import create_service_key
from portal.crypto import encrypt_token
from portal.models import PendingAuthorization, ServiceKey, TokenIssuance
from tests.leaks import assert_no_leak

pytestmark = pytest.mark.django_db

VERIFIER = "pkce-verifier-0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
STATE_DIGEST = "5" * 64
SESSION_DIGEST = "6" * 64


@pytest.fixture
def superuser(make_user):
    return make_user("root@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def one_of_each(make_grant, alice, superuser):
    """A row of every model: (ids by model name, secrets, stored values never to be shown)."""
    grant = make_grant()
    key, raw_key = create_service_key(name="desk-app <production>", created_by=superuser)
    now = timezone.now()
    pending = PendingAuthorization.objects.create(
        state_digest=STATE_DIGEST,
        session_digest=SESSION_DIGEST,
        user=alice,
        region="global",
        code_verifier_encrypted=encrypt_token(VERIFIER, context=STATE_DIGEST),
        grant=grant,
        created_at=now,
        expires_at=now,
    )
    issuance = TokenIssuance.objects.create(
        service_key=key, grant=grant, access_token_expires_at=now, first_issued_at=now
    )
    counter = RateCounter.objects.create(key="login:203.0.113.9", window_start=now, hits=3)
    event = record_event(action=AuditEvent.Action.CONNECTED, actor=alice, grant=grant)
    job_id = tasks.check_due_grants.defer(timestamp=0)
    objects = {
        "zohogrant": grant.pk,
        "servicekey": key.pk,
        "pendingauthorization": pending.pk,
        "tokenissuance": issuance.pk,
        "ratecounter": counter.pk,
        "auditevent": event.pk,
        "user": alice.pk,
        "procrastinatejob": job_id,
    }
    ciphertexts = [
        bytes(grant.refresh_token_encrypted).decode(),
        bytes(grant.access_token_encrypted).decode(),
        bytes(pending.code_verifier_encrypted).decode(),
    ]
    secrets = [make_grant.refresh_token, make_grant.access_token, raw_key, VERIFIER]
    # Stored, so only the pages are searched for them: the key's digest, the state digests.
    ciphertexts += [ServiceKey.objects.get(pk=key.pk).key_digest, STATE_DIGEST, SESSION_DIGEST]
    return objects, secrets, ciphertexts


def admin_pages(objects):
    """(changelist, change page) of every model registered in the admin."""
    pages = []
    for model in admin.site._registry:
        meta = model._meta
        base = f"/admin/{meta.app_label}/{meta.model_name}/"
        pk = objects.get(meta.model_name)
        pages.append((base, f"{base}{pk}/change/" if pk is not None else None))
    return pages


def test_every_model_of_the_portal_is_registered():
    registered = {model._meta.label for model in admin.site._registry}
    for label in (
        "accounts.User",
        "accounts.AuditEvent",
        "accounts.RateCounter",
        "portal.ZohoGrant",
        "portal.PendingAuthorization",
        "portal.ServiceKey",
        "portal.TokenIssuance",
        "procrastinate.ProcrastinateJob",  # Procrastinate's own admin
    ):
        assert label in registered


def test_every_admin_page_renders_without_secrets(client, superuser, one_of_each):
    objects, secrets, ciphertexts = one_of_each
    client.force_login(superuser)
    bodies = []
    for changelist, change in admin_pages(objects):
        response = client.get(changelist)
        assert response.status_code == 200, changelist
        bodies.append(response.content.decode())
        if change is not None:
            response = client.get(change)
            assert response.status_code == 200, change
            bodies.append(response.content.decode())
    assert len(bodies) >= 16
    for body in bodies:
        for ciphertext in ciphertexts:
            assert ciphertext not in body
            assert ciphertext[:40] not in body
        assert "encrypted" not in body.lower()
        assert "key_digest" not in body and "state_digest" not in body
    assert_no_leak(secrets, *bodies)


def test_lists_are_useful(client, superuser, one_of_each):
    client.force_login(superuser)
    keys = client.get("/admin/portal/servicekey/").content.decode()
    assert "desk-app &lt;production&gt;" in keys  # listed, and escaped
    grants = client.get("/admin/portal/zohogrant/?status__exact=active").content.decode()
    assert "agent@example.eu (EU)" in grants
    counters = client.get("/admin/accounts/ratecounter/?q=203.0.113").content.decode()
    assert "login:203.0.113.9" in counters


@pytest.mark.parametrize(
    "model", ["servicekey", "pendingauthorization", "tokenissuance", "ratecounter", "auditevent"]
)
def test_nothing_can_be_added_changed_or_deleted(client, superuser, one_of_each, model):
    objects, _, _ = one_of_each
    client.force_login(superuser)
    app = "accounts" if model in ("ratecounter", "auditevent") else "portal"
    base = f"/admin/{app}/{model}/"
    assert client.get(f"{base}add/").status_code == 403
    assert client.post(f"{base}{objects[model]}/delete/", {"post": "yes"}).status_code == 403
    page = client.get(f"{base}{objects[model]}/change/").content.decode()
    assert 'name="_save"' not in page


def test_revoking_keys_goes_through_the_audited_service(client, make_user, one_of_each):
    objects, _, _ = one_of_each
    staff = make_user("keys@example.com", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename="view_servicekey"))
    client.force_login(staff)
    form = {"action": "revoke_keys", "_selected_action": [objects["servicekey"]]}
    client.post("/admin/portal/servicekey/", form)
    assert ServiceKey.objects.get(pk=objects["servicekey"]).revoked_at is None  # no permission
    staff.user_permissions.add(Permission.objects.get(codename="manage_service_keys"))
    response = client.post("/admin/portal/servicekey/", form)
    assert response.status_code == 302
    assert ServiceKey.objects.get(pk=objects["servicekey"]).revoked_at is not None
    assert AuditEvent.objects.filter(action="service_key.revoked", actor_id=staff.pk).exists()
