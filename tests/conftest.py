"""The cast and tools shared by the suite."""

import pytest

from accounts.models import User

PASSWORD = "correct-horse-battery-staple-42"


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def make_user(db):
    def make(email: str, **extra) -> User:
        return User.objects.create_user(email, PASSWORD, **extra)

    return make


@pytest.fixture
def alice(make_user) -> User:
    return make_user("alice@example.com", first_name="Alice")


@pytest.fixture
def bob(make_user) -> User:
    return make_user("bob@example.com", first_name="Bob")


@pytest.fixture
def staff(make_user) -> User:
    return make_user("staff@example.com", is_staff=True)


GRANT_REFRESH_TOKEN = "1000.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
GRANT_ACCESS_TOKEN = "1000.cccccccccccccccccccccccccccccccc.dddddddddddddddddddddddddddddddd"


@pytest.fixture
def make_grant(db, alice):
    """Build a grant in code (no Zoho involved) with known token values for leak checks."""
    from datetime import timedelta

    from django.utils import timezone

    from portal.crypto import encrypt_token
    from portal.models import ZohoGrant

    def make(**overrides) -> ZohoGrant:
        now = timezone.now()
        grant = ZohoGrant(
            user=overrides.pop("user", alice),
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

    make.refresh_token = GRANT_REFRESH_TOKEN
    make.access_token = GRANT_ACCESS_TOKEN
    return make


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


class PortalBrowser:
    """A person in the portal (Django's test client) who consents on the sandbox over HTTP."""

    def __init__(self, client, sandbox) -> None:
        self.client = client
        self.sandbox = sandbox

    def start(self, region: str = "global") -> str:
        """Press Connect; return the Zoho authorize URL the portal redirected to."""
        response = self.client.post("/connections/connect/", {"region": region})
        assert response.status_code == 302, response.content[:300]
        return response["Location"]

    def callback(self, url: str):
        """Follow Zoho's redirect back to the portal's callback."""
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        return self.client.get(f"{parts.path}?{parts.query}")

    def connect(self, zuid: str, region: str = "global", approve: bool = True):
        """The whole flow; returns the callback's response."""
        callback_url = self.sandbox.consent(self.start(region), zuid=zuid, approve=approve)
        return self.callback(callback_url)


@pytest.fixture
def portal(client, sandbox, alice) -> PortalBrowser:
    client.force_login(alice)
    return PortalBrowser(client, sandbox)
