"""Grant codes: issued on consent, exchanged once for tokens (reference §2, §4)."""

import base64
import hashlib
import hmac
import re
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from sandbox.models import (
    AccessToken,
    AuthorizationCode,
    Client,
    RefreshToken,
    SandboxSettings,
    ZohoAccount,
)
from sandbox.tokens import (
    Issued,
    OAuthFailure,
    create_access_token,
    create_refresh_token,
    new_token,
    revoke_grants,
    token_hash,
)

_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def create_code(
    *,
    client: Client,
    account: ZohoAccount,
    redirect_uri: str,
    scope: str,
    issue_refresh_token: bool,
    code_challenge: str,
    code_challenge_method: str,
    lifetime: int,
) -> str:
    """Store a single-use grant code bound to client, redirect URI, DC and PKCE challenge."""
    value = new_token()
    now = timezone.now()
    AuthorizationCode.objects.create(
        code_hash=token_hash(value),
        client=client,
        account=account,
        data_centre=account.data_centre,
        redirect_uri=redirect_uri,
        scope=scope,
        issue_refresh_token=issue_refresh_token,
        code_challenge=code_challenge,
        code_challenge_method=code_challenge_method,
        created_at=now,
        expires_at=now + timedelta(seconds=lifetime),
    )
    return value


def code_row(value: str) -> AuthorizationCode | None:
    """The stored code for a value (whatever its state), for identification only."""
    if not value:
        return None
    return (
        AuthorizationCode.objects.select_related("account")
        .filter(code_hash=token_hash(value))
        .first()
    )


def exchange_code(
    *,
    client: Client,
    dc: str,
    code: str,
    redirect_uri: str,
    code_verifier: str,
    config: SandboxSettings,
    omit_refresh_token: bool = False,
) -> Issued:
    """Trade a grant code for tokens, or raise :class:`OAuthFailure` as Zoho would."""
    row = code_row(code)
    now = timezone.now()
    if row is None or row.client_id != client.pk or row.data_centre != dc:
        raise OAuthFailure("invalid_code")
    if row.used_at is not None:
        if config.revoke_on_code_reuse:
            revoke_grants(RefreshToken.objects.filter(code=row), reason="code_reuse")
            AccessToken.objects.filter(code=row, revoked_at__isnull=True).update(revoked_at=now)
        raise OAuthFailure("invalid_code")
    if row.expires_at <= now:
        raise OAuthFailure("invalid_code")
    if row.redirect_uri != redirect_uri:
        raise OAuthFailure("invalid_redirect_uri")
    if config.pkce_enforced and not _pkce_ok(row, code_verifier):
        raise OAuthFailure("invalid_code")
    with transaction.atomic():
        claimed = AuthorizationCode.objects.filter(pk=row.pk, used_at__isnull=True).update(
            used_at=now
        )
        if not claimed:
            raise OAuthFailure("invalid_code")
        refresh_value = grant = None
        if row.issue_refresh_token and not omit_refresh_token:
            refresh_value, grant = create_refresh_token(row)
        access_value = create_access_token(
            client=client,
            account=row.account,
            dc=dc,
            scope=row.scope,
            lifetime=config.access_token_lifetime,
            refresh_token=grant,
            code=row,
        )
    return Issued(
        account=row.account,
        dc=dc,
        scope=row.scope,
        grant_id=grant.pk if grant else None,
        access_token=access_value,
        refresh_token=refresh_value,
    )


def _pkce_ok(row: AuthorizationCode, verifier: str) -> bool:
    if not row.code_challenge:
        return not verifier  # a verifier for a code issued without a challenge: a downgrade
    if not _VERIFIER.match(verifier or ""):
        return False
    if row.code_challenge_method == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    else:
        computed = verifier
    return hmac.compare_digest(computed, row.code_challenge)
