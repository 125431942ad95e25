"""Refresh tokens and access tokens, with Zoho's limits (reference §5–§6).

Values look like Zoho's (``1000.<32 hex>.<32 hex>``) and are stored only as SHA-256 hashes.
"""

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from sandbox.models import (
    AccessToken,
    AuthorizationCode,
    Client,
    RefreshToken,
    SandboxSettings,
    ZohoAccount,
)

MAX_REFRESH_TOKENS = 20  # per user per client; the 21st evicts the oldest
MAX_REFRESHES = 10  # access tokens per refresh token ...
REFRESH_WINDOW = timedelta(minutes=10)  # ... in this sliding window
ACCESS_DENIED_BODY = {
    "error": "Access Denied",
    "error_description": "You have made too many requests continuously. "
    "Please try again after some time.",
    "status": "failure",
}


class OAuthFailure(Exception):
    """A Zoho OAuth error answered as HTTP 200 with ``{"error": code}`` (or ``body``)."""

    def __init__(self, error: str, *, body: dict[str, Any] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.body = body or {"error": error}


class UnknownToken(Exception):
    """Revocation of a token the DC does not know (or that is already dead)."""


@dataclass(frozen=True)
class Issued:
    """Tokens just minted. Plain values live only here, on their way into a response."""

    account: ZohoAccount
    dc: str
    scope: str
    grant_id: int | None
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)


def new_token() -> str:
    return f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"


def token_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def token_hint(value: str) -> str:
    """Enough to tell tokens apart on the control page, far too little to use one."""
    return f"{value[:9]}…{value[-4:]}"


def refresh_row(value: str) -> RefreshToken | None:
    if not value:
        return None
    return (
        RefreshToken.objects.select_related("account").filter(token_hash=token_hash(value)).first()
    )


def access_row(value: str) -> AccessToken | None:
    if not value:
        return None
    return (
        AccessToken.objects.select_related("account", "refresh_token", "client")
        .filter(token_hash=token_hash(value))
        .first()
    )


def refresh_access_token(
    *, client: Client, dc: str, refresh_token: str, config: SandboxSettings, rotate: bool = False
) -> Issued:
    """Mint an access token from a refresh token (10 per 10 minutes, then Access Denied)."""
    now = timezone.now()
    with transaction.atomic():
        grant = (
            RefreshToken.objects.select_for_update()
            .select_related("account")
            .filter(token_hash=token_hash(refresh_token) if refresh_token else "")
            .first()
        )
        if (
            grant is None
            or grant.revoked_at is not None
            or grant.client_id != client.pk
            or grant.data_centre != dc
        ):
            raise OAuthFailure("invalid_code")
        recent = grant.access_tokens.filter(
            is_from_refresh=True, created_at__gt=now - REFRESH_WINDOW
        ).count()
        if recent >= MAX_REFRESHES:
            raise OAuthFailure("Access Denied", body=ACCESS_DENIED_BODY)
        rotated_value = None
        if rotate:
            revoke_grants(RefreshToken.objects.filter(pk=grant.pk), reason="rotated", cascade=False)
            rotated_value, grant = create_refresh_token(grant.code, template=grant)
        access_value = create_access_token(
            client=client,
            account=grant.account,
            dc=dc,
            scope=grant.scope,
            lifetime=config.access_token_lifetime,
            refresh_token=grant,
            is_from_refresh=True,
        )
    return Issued(
        account=grant.account,
        dc=dc,
        scope=grant.scope,
        grant_id=grant.pk,
        access_token=access_value,
        refresh_token=rotated_value,
    )


def revoke_token(*, dc: str, token: str, any_dc: bool = False) -> RefreshToken | AccessToken:
    """Revoke a refresh token (with every access token minted from it) or one access token."""
    digest = token_hash(token) if token else ""
    grants = RefreshToken.objects.filter(token_hash=digest, revoked_at__isnull=True)
    accesses = AccessToken.objects.filter(token_hash=digest, revoked_at__isnull=True)
    if not any_dc:
        grants, accesses = grants.filter(data_centre=dc), accesses.filter(data_centre=dc)
    grant = grants.select_related("account").first()
    if grant is not None:
        revoke_grants(RefreshToken.objects.filter(pk=grant.pk), reason="revoked")
        return grant
    access = accesses.select_related("account").first()
    if access is not None and access.expires_at > timezone.now():
        AccessToken.objects.filter(pk=access.pk).update(revoked_at=timezone.now())
        return access
    raise UnknownToken()


def revoke_user_grants(*, account: ZohoAccount, client: Client) -> int:
    """Connected Apps → Revoke Access: every grant of ``account`` to ``client`` dies, unused
    codes too, and the next consent counts as the first again. Returns the grants revoked."""
    now = timezone.now()
    with transaction.atomic():
        count = revoke_grants(
            RefreshToken.objects.filter(account=account, client=client), reason="user_revoked"
        )
        AccessToken.objects.filter(account=account, client=client, revoked_at__isnull=True).update(
            revoked_at=now
        )
        AuthorizationCode.objects.filter(
            account=account, client=client, used_at__isnull=True
        ).update(used_at=now)
        account.consent_set.filter(client=client).delete()
    return count


def valid_access_token(*, dc: str, token: str) -> AccessToken | None:
    """The live access token for this value at this DC, or None (unknown, expired, revoked)."""
    row = access_row(token)
    if row is None or row.data_centre != dc or row.revoked_at is not None:
        return None
    if row.expires_at <= timezone.now():
        return None
    grant = row.refresh_token
    if grant is not None and grant.revoked_at is not None and grant.revoked_reason != "rotated":
        return None
    return row


def create_refresh_token(
    code: AuthorizationCode | None, *, template: RefreshToken | None = None
) -> tuple[str, RefreshToken]:
    """A new refresh token like ``code``'s grant (or ``template``), evicting beyond 20."""
    source = template or code
    assert source is not None
    value = new_token()
    grant = RefreshToken.objects.create(
        token_hash=token_hash(value),
        hint=token_hint(value),
        client_id=source.client_id,
        account=source.account,
        data_centre=source.data_centre,
        scope=source.scope,
        code=code,
        created_at=timezone.now(),
    )
    _evict_beyond_limit(source.account, source.client_id)
    return value, grant


def _evict_beyond_limit(account: ZohoAccount, client_id: int) -> None:
    live = RefreshToken.objects.filter(
        account=account, client_id=client_id, revoked_at__isnull=True
    ).order_by("-created_at", "-id")
    surplus = list(live.values_list("pk", flat=True)[MAX_REFRESH_TOKENS:])
    if surplus:
        revoke_grants(RefreshToken.objects.filter(pk__in=surplus), reason="evicted")


def create_access_token(
    *,
    client: Client,
    account: ZohoAccount,
    dc: str,
    scope: str,
    lifetime: int,
    refresh_token: RefreshToken | None,
    code: AuthorizationCode | None = None,
    is_from_refresh: bool = False,
) -> str:
    """Store a new access token; returns its value (the only time it exists in clear)."""
    value = new_token()
    now = timezone.now()
    AccessToken.objects.create(
        token_hash=token_hash(value),
        hint=token_hint(value),
        refresh_token=refresh_token,
        code=code,
        client=client,
        account=account,
        data_centre=dc,
        scope=scope,
        is_from_refresh=is_from_refresh,
        created_at=now,
        expires_at=now + timedelta(seconds=lifetime),
    )
    return value


def revoke_grants(grants: QuerySet[RefreshToken], *, reason: str, cascade: bool = True) -> int:
    """Revoke the live refresh tokens among ``grants`` (and, by default, their access tokens)."""
    now = timezone.now()
    ids = list(grants.filter(revoked_at__isnull=True).values_list("pk", flat=True))
    if not ids:
        return 0
    RefreshToken.objects.filter(pk__in=ids).update(revoked_at=now, revoked_reason=reason)
    if cascade:
        AccessToken.objects.filter(refresh_token_id__in=ids, revoked_at__isnull=True).update(
            revoked_at=now
        )
    return len(ids)
