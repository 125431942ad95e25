"""The cast and tools shared by the suite."""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from accounts.models import User
from tests.cast import EU, GRANT_ACCESS_TOKEN, GRANT_REFRESH_TOKEN, PASSWORD
from tests.portal_browser import PortalBrowser

if TYPE_CHECKING:
    from portal.models import ZohoGrant


@pytest.fixture(autouse=True, scope="session")
def _flush_with_triggers_off():
    """Empty the tables after a transactional test as a superuser can: with triggers off.

    The audit table refuses TRUNCATE (accounts migration 0012), and Django's flush truncates
    every table; the test role is a superuser, so it may switch triggers off for the flush.
    Django's flush skips unmanaged models, Procrastinate's among them, so the job queue is
    emptied here too: a job one test queued never runs in the next.
    """
    from unittest import mock

    from django.db import transaction
    from django.db.backends.postgresql.operations import DatabaseOperations

    def execute_sql_flush(self: DatabaseOperations, sql_list: list[str]) -> None:
        with transaction.atomic(using=self.connection.alias), self.connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
            for sql in sql_list:
                cursor.execute(sql)
            cursor.execute("TRUNCATE procrastinate_jobs CASCADE")

    with mock.patch.object(DatabaseOperations, "execute_sql_flush", execute_sql_flush):
        yield


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def make_user(db):
    def make(email: str, **extra) -> User:
        return User.objects.create_user(email, PASSWORD, **extra)

    return make


@pytest.fixture
def alice(make_user: Callable[..., User]) -> User:
    return make_user("alice@example.com", first_name="Alice")


@pytest.fixture
def bob(make_user: Callable[..., User]) -> User:
    return make_user("bob@example.com", first_name="Bob")


@pytest.fixture
def staff(make_user: Callable[..., User]) -> User:
    return make_user("staff@example.com", is_staff=True)


class GrantMaker:
    """``make_grant(**overrides)``: a saved grant of ``owner``'s unless ``user`` is given; the
    plain tokens it encrypts into every grant are ``make_grant.refresh_token`` and
    ``make_grant.access_token``."""

    refresh_token = GRANT_REFRESH_TOKEN
    access_token = GRANT_ACCESS_TOKEN

    def __init__(self, owner: User) -> None:
        self.owner = owner

    def __call__(self, **overrides: Any) -> "ZohoGrant":
        from datetime import timedelta

        from django.utils import timezone

        from portal.crypto import encrypt_token
        from portal.models import ZohoGrant

        now = timezone.now()
        grant = ZohoGrant(
            user=overrides.pop("user", self.owner),
            data_centre="eu",
            accounts_server="http://127.0.0.1:8000/sandbox/eu/accounts",
            desk_base_url="http://127.0.0.1:8000/sandbox/eu/desk/api/v1",
            api_domain="https://www.zohoapis.eu",
            zoho_user_id="20000001",
            zoho_email="agent@example.eu",
            display_name="Agent Example",
            organizations=[{"id": "70000001", "name": "Example Support"}],
            scope="Desk.basic.READ,Desk.settings.READ,AaaServer.profile.READ",
            access_token_expires_at=now + timedelta(hours=1),
            connected_at=now,
            last_refreshed_at=now,
        )
        for name, value in overrides.items():
            setattr(grant, name, value)
        grant.refresh_token_encrypted = encrypt_token(GRANT_REFRESH_TOKEN, context=str(grant.pk))
        grant.access_token_encrypted = encrypt_token(GRANT_ACCESS_TOKEN, context=str(grant.pk))
        grant.save()
        return grant


@pytest.fixture
def make_grant(db: None, alice: User) -> GrantMaker:
    """Build a grant in code (no Zoho involved) with known token values for leak checks."""
    return GrantMaker(alice)


@pytest.fixture
def sandbox(live_server, settings):
    """The Zoho sandbox on a live server, with every data centre pointed at it, reset."""
    from tests.sandbox_control import SandboxControl

    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    settings.ZOHO_REDIRECT_URI = f"{live_server.url}/connections/callback/"
    settings.ZOHO_HTTP_TIMEOUT = 2.0
    control = SandboxControl(settings.SANDBOX_BASE_URL)
    control.reset()
    return control


@pytest.fixture
def portal(client, sandbox, alice) -> PortalBrowser:
    client.force_login(alice)
    return PortalBrowser(client, sandbox)


@pytest.fixture
def connected(portal, alice):
    """A real grant of Alice's, connected through the sandbox (as the sandbox's eu user)."""
    from portal.models import ZohoGrant

    assert portal.connect(EU).status_code == 303
    return ZohoGrant.objects.get(user=alice)


@pytest.fixture
def expired(connected):
    """Alice's real grant whose access token has expired: the next call must refresh."""
    from datetime import timedelta

    from django.utils import timezone

    from portal.models import ZohoGrant

    ZohoGrant.objects.filter(pk=connected.pk).update(
        access_token_expires_at=timezone.now() - timedelta(minutes=1)
    )
    connected.refresh_from_db()
    return connected


@pytest.fixture
def service_key(db: None) -> str:
    """A raw service key for the token API (``Authorization: Bearer <key>``)."""
    from portal.api.keys import create_service_key

    return create_service_key(name="desk app")[1]


@pytest.fixture
def decoy():
    """A local listener that must never be contacted (a second NO-EGRESS witness)."""
    from tests.connecting import Decoy

    listener = Decoy()
    yield listener
    listener.close()


@pytest.fixture
def api(live_server, sandbox, portal, alice):
    """Alice's connected grant, and an httpx2 client for the live token API with a service key."""
    import httpx2

    from portal.api.keys import create_service_key
    from portal.models import ZohoGrant

    portal.connect(EU)
    grant = ZohoGrant.objects.get(user=alice)
    _, raw_key = create_service_key(name="backend")
    client = httpx2.Client(
        base_url=f"{live_server.url}/api/v1",
        headers={"Authorization": f"Bearer {raw_key}"},
        timeout=20,
    )
    yield client, grant
    client.close()


@pytest.fixture
def auditor(staff: User) -> User:
    """The staff member, allowed to read the audit log."""
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(Permission.objects.get(codename="view_audit_log"))
    return staff


@pytest.fixture
def auditor_client(client, auditor: User):
    """The test client, signed in as the auditor."""
    client.force_login(auditor)
    return client


@pytest.fixture
def desk_api(live_server, sandbox, portal, alice, settings):
    """Alice's grant connected with the Desk ticket scopes, and an httpx2 client for the live
    API with a service key (for the Desk proxy: ``/grants/<id>/desk/...``)."""
    import httpx2

    from portal.api.keys import create_service_key
    from portal.models import ZohoGrant

    settings.ZOHO_SCOPES = [*settings.ZOHO_SCOPES, "Desk.tickets.ALL"]
    portal.connect(EU)
    grant = ZohoGrant.objects.get(user=alice)
    _, raw_key = create_service_key(name="backend")
    client = httpx2.Client(
        base_url=f"{live_server.url}/api/v1/grants/{grant.pk}/desk",
        headers={"Authorization": f"Bearer {raw_key}"},
        timeout=20,
    )
    client.raw_key = raw_key  # type: ignore[attr-defined]
    yield client, grant
    client.close()


@pytest.fixture
def receiver():
    """A local webhook receiver answering 200 (tests/webhook_receiver.py)."""
    from tests.webhook_receiver import Receiver

    listener = Receiver()
    yield listener
    listener.close()


@pytest.fixture
def webhook(db: None, receiver):
    """An endpoint for every event type pointing at ``receiver``, and its secret (shown once)."""
    from accounts.audit import AuditContext
    from portal.api.webhooks.endpoints import register_endpoint
    from portal.grants.events import EventType

    registered = register_endpoint(
        url=receiver.url(), events=[str(kind) for kind in EventType], context=AuditContext()
    )
    return registered.endpoint, registered.secret
