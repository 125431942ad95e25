"""Services behind the control page and the JSON control API: reset, listings, user revoke."""

from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from sandbox.clients import ensure_portal_client, find_client
from sandbox.models import (
    AccessToken,
    AuthorizationCode,
    Client,
    Consent,
    DeskTicket,
    Fault,
    RecordedRequest,
    RefreshToken,
    SandboxSettings,
    ZohoAccount,
)
from sandbox.seed import seed
from sandbox.tokens import REFRESH_WINDOW, revoke_user_grants


class NotFound(LookupError):
    """No such user or client."""


def reset_sandbox() -> None:
    """Back to the seeded start: no faults, records, codes, grants, consents, extra clients;
    default settings."""
    with transaction.atomic():
        for model in (
            DeskTicket,
            AccessToken,
            RefreshToken,
            AuthorizationCode,
            Consent,
            Fault,
            RecordedRequest,
            SandboxSettings,
            Client,
        ):
            model.objects.all().delete()
        seed()
        ensure_portal_client()


def revoke_for_user(*, zuid: str, client_id: str | None = None) -> int:
    """The user revoked us in Zoho (Connected Apps → Revoke Access).

    Kills every grant of ``zuid`` to the client (the portal's when ``client_id`` is not
    given); returns how many refresh tokens died.
    """
    if not zuid.isdigit():
        raise NotFound(zuid[:20])
    account = ZohoAccount.objects.filter(zuid=zuid).first()
    client = find_client(client_id or settings.ZOHO_CLIENT_ID)
    if account is None or client is None:
        raise NotFound(zuid if account is None else (client_id or "portal client"))
    return revoke_user_grants(account=account, client=client)


def users_as_dicts() -> list[dict[str, Any]]:
    """The seeded Zoho users with their Desk organizations."""
    return [
        {
            "zuid": account.zuid,
            "dc": account.data_centre,
            "email": account.email,
            "first_name": account.first_name,
            "last_name": account.last_name,
            "display_name": account.display_name,
            "organizations": [
                {
                    "id": org.org_id,
                    "company_name": org.company_name,
                    "portal_name": org.portal_name,
                    "edition": org.edition,
                    "is_default": org.is_default,
                }
                for org in account.orgs.all()
            ],
        }
        for account in ZohoAccount.objects.prefetch_related("orgs").order_by("data_centre", "zuid")
    ]


def grants_as_dicts(*, zuid: str = "", client_id: str = "") -> list[dict[str, Any]]:
    """Refresh tokens issued (newest first) with masked values and access-token counts."""
    now = timezone.now()
    rows = RefreshToken.objects.select_related("account", "client").annotate(
        access_tokens_total=Count("access_tokens"),
        access_tokens_recent=Count(
            "access_tokens",
            filter=Q(
                access_tokens__is_from_refresh=True,
                access_tokens__created_at__gt=now - REFRESH_WINDOW,
            ),
        ),
        access_tokens_live=Count(
            "access_tokens",
            filter=Q(access_tokens__revoked_at__isnull=True, access_tokens__expires_at__gt=now),
        ),
    )
    if zuid:
        rows = rows.filter(account__zuid=zuid)
    if client_id:
        rows = rows.filter(client__client_id=client_id)
    return [
        {
            "id": row.pk,
            "zuid": row.account.zuid,
            "client_id": row.client.client_id,
            "dc": row.data_centre,
            "scope": row.scope,
            "refresh_token": row.hint,
            "created_at": row.created_at.isoformat(),
            "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
            "revoked_reason": row.revoked_reason or None,
            "active": row.revoked_at is None,
            "access_tokens": row.access_tokens_total,
            "live_access_tokens": row.access_tokens_live,
            "refreshes_last_10_min": row.access_tokens_recent,
        }
        for row in rows.order_by("-created_at", "-id")
    ]
