"""Legacy Desk authtokens and their conversion into OAuth grants (reference §8).

Every seeded user has one authtoken (Zoho's were 32 hex characters, one per user, valid
for every Desk org the user is an agent in). It is derived from the ZUID, so it is the same
after a reset, in ``make run`` and in tests, and a demo import file can name it; nothing
about it is stored. Converting it (``authtooauth``) mints a refresh token and an access token
exactly like a code exchange would, so the grant then refreshes, revokes and reaches Desk
like any other.
"""

import hashlib
import hmac
import re

from django.db import transaction

from sandbox.models import Client, RefreshToken, SandboxSettings, ZohoAccount
from sandbox.tokens import Issued, OAuthFailure, create_access_token, create_refresh_token

# The error codes below are the sandbox's choice: Zoho documents none for this endpoint
# (UNVERIFIED; the ``error_200`` fault gives any other code).
DEAD_AUTHTOKEN = "invalid_authtoken"
WRONG_ORG = "invalid_soid"
_SOID = re.compile(r"^ZohoSupport\.([0-9]{1,20})$")


def legacy_authtoken(zuid: str) -> str:
    """The authtoken of the user ``zuid`` (deterministic; the sandbox's users are public)."""
    return hashlib.sha256(f"sandbox legacy authtoken {zuid}".encode()).hexdigest()[:32]


def authtoken_owner(value: str) -> ZohoAccount | None:
    """The user whose authtoken this is, or None."""
    if not value or len(value) > 200:
        return None
    for account in ZohoAccount.objects.all():
        if hmac.compare_digest(legacy_authtoken(account.zuid), value):
            return account
    return None


def org_id_of(soid: str) -> str | None:
    """The Desk org id in ``soid=ZohoSupport.<orgId>``, or None when it is not that shape."""
    match = _SOID.match(soid)
    return match.group(1) if match else None


def convert(
    *,
    client: Client,
    dc: str,
    account: ZohoAccount | None,
    soid: str,
    scope: str,
    config: SandboxSettings,
) -> Issued:
    """A new grant of ``account`` to ``client`` from its authtoken, or an ``OAuthFailure``.

    The authtoken must belong to a user of this DC (elsewhere Zoho does not know it), and
    ``soid`` must name a Desk org that user is an agent in.
    """
    if account is None or account.data_centre != dc:
        raise OAuthFailure(DEAD_AUTHTOKEN)
    org_id = org_id_of(soid)
    if org_id is None or not account.orgs.filter(org_id=org_id).exists():
        raise OAuthFailure(WRONG_ORG)
    template = RefreshToken(client=client, account=account, data_centre=dc, scope=scope)
    with transaction.atomic():
        refresh_value, grant = create_refresh_token(None, template=template)
        access_value = create_access_token(
            client=client,
            account=account,
            dc=dc,
            scope=scope,
            lifetime=config.access_token_lifetime,
            refresh_token=grant,
        )
    return Issued(
        account=account,
        dc=dc,
        scope=scope,
        grant_id=grant.pk,
        access_token=access_value,
        refresh_token=refresh_value,
    )


def authtokens_as_dicts() -> list[dict[str, object]]:
    """Every user's legacy authtoken, with the DC and the org ids it converts for."""
    return [
        {
            "zuid": account.zuid,
            "dc": account.data_centre,
            "email": account.email,
            "authtoken": legacy_authtoken(account.zuid),
            "org_ids": [org.org_id for org in account.orgs.all()],
        }
        for account in ZohoAccount.objects.prefetch_related("orgs").order_by("data_centre", "zuid")
    ]
