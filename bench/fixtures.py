"""The bench's data (Django is set up in this process). For the token API, made through the
portal's own flows: a user, two grants connected for real through the sandbox, one of them
then expired, and a service key. For the upkeep sweep, thousands of grants made in bulk on
both sides: Zoho users with a Desk organization and live tokens in the sandbox's database (its
own models, values stored as it stores them: SHA-256 only), and the matching encrypted grants
in the portal's."""

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from tests.sandbox_control import SandboxControl

if TYPE_CHECKING:
    from django.test import Client

    from accounts.models import User
    from sandbox import models as zs

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


BULK_ZUID_BASE = 600_000_000  # far from the sandbox's seeded users (8-digit ZUIDs)
BULK_CHUNK = 1000


def create_bulk_grants(
    count: int, *, data_centres: list[str], sandbox_alias: str, valid_for: timedelta
) -> list[str]:
    """``count`` grants, one Zoho user each, spread evenly over ``data_centres``, every one
    valid at the sandbox and due for its health check; returns the portal's grant ids."""
    from django.conf import settings
    from django.db import transaction

    from accounts.models import User
    from sandbox.models import Client

    owner = User.objects.create_user("sweep@example.com", secrets.token_urlsafe(24))
    client = Client.objects.using(sandbox_alias).get(client_id=settings.ZOHO_CLIENT_ID)
    ids: list[str] = []
    for start in range(0, count, BULK_CHUNK):
        numbers = range(start, min(start + BULK_CHUNK, count))
        with transaction.atomic(), transaction.atomic(using=sandbox_alias):
            ids += _bulk_chunk(numbers, owner, client, data_centres, sandbox_alias, valid_for)
    return ids


def _bulk_chunk(
    numbers: range,
    owner: "User",
    client: "zs.Client",
    data_centres: list[str],
    alias: str,
    valid_for: timedelta,
) -> list[str]:
    """One chunk: the Zoho side (account, organization, refresh and access token) in the
    sandbox's database, then the portal's grants holding the same token values encrypted."""
    from django.conf import settings
    from django.utils import timezone

    from portal import zoho
    from portal.crypto import encrypt_token
    from portal.models import ZohoGrant
    from sandbox import models as zs
    from sandbox.tokens import new_token, token_hash, token_hint

    now, scope = timezone.now(), ",".join(settings.ZOHO_SCOPES)
    people = [(n, str(BULK_ZUID_BASE + n), data_centres[n % len(data_centres)]) for n in numbers]
    accounts = zs.ZohoAccount.objects.using(alias).bulk_create(
        zs.ZohoAccount(
            zuid=zuid,
            data_centre=dc,
            email=f"agent{n}@example.com",
            first_name="Agent",
            last_name=str(n),
            display_name=f"Agent {n}",
        )
        for n, zuid, dc in people
    )
    zs.DeskOrganization.objects.using(alias).bulk_create(
        zs.DeskOrganization(
            account=account,
            org_id=account.zuid,
            agent_id=f"{account.zuid}1",
            company_name=f"Sweep Support {account.zuid}",
            portal_name=f"sweep{account.zuid}",
            edition="PROFESSIONAL",
            is_default=True,
        )
        for account in accounts
    )
    values = [(new_token(), new_token()) for _ in accounts]
    refresh_rows = zs.RefreshToken.objects.using(alias).bulk_create(
        zs.RefreshToken(
            token_hash=token_hash(refresh),
            hint=token_hint(refresh),
            client=client,
            account=account,
            data_centre=account.data_centre,
            scope=scope,
            created_at=now,
        )
        for account, (refresh, _) in zip(accounts, values, strict=True)
    )
    zs.AccessToken.objects.using(alias).bulk_create(
        zs.AccessToken(
            token_hash=token_hash(access),
            hint=token_hint(access),
            refresh_token=row,
            client=client,
            account=row.account,
            data_centre=row.data_centre,
            scope=scope,
            created_at=now,
            expires_at=now + valid_for,
        )
        for row, (_, access) in zip(refresh_rows, values, strict=True)
    )
    grants = []
    for account, (refresh, access) in zip(accounts, values, strict=True):
        dc, grant_id = zoho.data_centre(account.data_centre), uuid.uuid4()
        grants.append(
            ZohoGrant(
                id=grant_id,
                user=owner,
                data_centre=dc.code,
                accounts_server=dc.accounts_url,
                desk_base_url=dc.desk_api_base,
                api_domain=dc.api_domain,
                zoho_user_id=account.zuid,
                zoho_email=account.email,
                display_name=account.display_name,
                organizations=[{"id": account.zuid, "name": f"Sweep Support {account.zuid}"}],
                scope=scope,
                refresh_token_encrypted=encrypt_token(refresh, context=str(grant_id)),
                access_token_encrypted=encrypt_token(access, context=str(grant_id)),
                access_token_expires_at=now + valid_for,
                connected_at=now,
                last_refreshed_at=now,
                status_changed_at=now,
                next_check_at=now,
            )
        )
    ZohoGrant.objects.bulk_create(grants)
    return [str(grant.pk) for grant in grants]
