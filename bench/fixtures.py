"""The bench's data, made through the portal's own flows (Django is set up in this process):
a user, two grants connected for real through the sandbox, one of them then expired, and a
service key."""

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from tests.sandbox_control import SandboxControl

if TYPE_CHECKING:
    from django.test import Client

US_ZUID = "10000001"  # the grant with a fresh access token (the hot path)
EU_ZUID = "20000001"  # the grant whose access token is expired (the refresh)


@dataclass(frozen=True)
class Fixtures:
    hot_grant_id: str
    expired_grant_id: str
    authorization: str = ""

    def __repr__(self) -> str:  # the service key stays out of logs and tracebacks
        return f"Fixtures(hot={self.hot_grant_id}, expired={self.expired_grant_id})"


def create_fixtures(control: SandboxControl) -> Fixtures:
    """Connect two Zoho users of the sandbox the way a person would, then make a key."""
    from django.test import Client

    from accounts.models import User
    from portal.api.keys import create_service_key

    user = User.objects.create_user("bench@example.com", secrets.token_urlsafe(24))
    client = Client()
    client.force_login(user)
    hot = _connect(client, control, US_ZUID)
    expired = _connect(client, control, EU_ZUID)
    expire(expired)
    _, raw_key = create_service_key(name="bench")
    return Fixtures(hot, expired, f"Bearer {raw_key}")


def _connect(client: "Client", control: SandboxControl, zuid: str) -> str:
    """Press Connect, consent on the sandbox as ``zuid``, follow the callback."""
    from portal.models import ZohoGrant

    started = client.post("/connections/connect/", {"region": "global"})
    if started.status_code != 302:
        raise RuntimeError(f"connect did not redirect to Zoho: HTTP {started.status_code}")
    parts = urlsplit(control.consent(started["Location"], zuid=zuid))
    client.get(f"{parts.path}?{parts.query}")
    grant = ZohoGrant.objects.filter(zoho_user_id=zuid, status=ZohoGrant.Status.ACTIVE).first()
    if grant is None:
        raise RuntimeError(f"connecting Zoho user {zuid} through the sandbox failed")
    return str(grant.pk)


def expire(grant_id: str) -> None:
    """Make the grant's access token an hour old, so the next caller must refresh it."""
    from django.utils import timezone

    from portal.models import ZohoGrant

    now = timezone.now()
    ZohoGrant.objects.filter(pk=grant_id).update(
        access_token_expires_at=now - timedelta(minutes=1),
        last_refreshed_at=now - timedelta(minutes=61),
    )
