"""Handing an access token to a service key, audited once per token and key."""

from datetime import datetime, timedelta
from uuid import UUID

from django.db import connection, transaction
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts.audit import record_event
from accounts.models import AuditEvent
from portal.api.caller import Caller, GrantState
from portal.api.problems import api_response, problem
from portal.crypto import TokenDecryptError, decrypt_token
from portal.grants import token_decision, tokens
from portal.models import ServiceKey, ZohoGrant

TOUCH_INTERVAL = timedelta(seconds=60)


@sensitive_variables("token")
def access_token_response(
    *, caller: Caller, grant: GrantState, min_valid: timedelta, force: bool
) -> JsonResponse:
    """The JSON answer for ``POST /grants/{id}/access-token``."""
    now = timezone.now()
    forced = token_decision.Force.ASKED if force else token_decision.Force.NO
    try:
        issued = issue_token(grant=grant, now=now, min_valid=min_valid, force=forced)
    except tokens.GrantError as error:
        return refusal_problem(error)
    # This key already holds the token with this expiry: no second issuance row or audit.
    if not (grant.already_issued and issued.expires_at == grant.access_token_expires_at):
        _record_issuance(caller, grant, issued.expires_at)
    touch(caller, grant, now)
    return api_response(
        {
            "access_token": issued.access_token,
            "token_type": "Zoho-oauthtoken",
            "expires_at": issued.expires_at.isoformat(),
            "api_domain": issued.api_domain,
            "desk_api_base": grant.desk_base_url,
            "org_ids": [org.get("id") for org in grant.organizations],
            "grant_status": "active",
        }
    )


@sensitive_variables("token")
def issue_token(
    *, grant: GrantState, now: datetime, min_valid: timedelta, force: token_decision.Force
) -> tokens.IssuedToken:
    """A token for the API's caller (handed out, or used by the Desk proxy for them).

    The one decision on the caller's own row first (the hot path: a decrypt); a refresh goes
    through the token service under the grant's lock. Raises :class:`tokens.GrantError`.
    """
    decision = token_decision.decide(_snapshot(grant), now=now, min_valid=min_valid, force=force)
    if decision.verdict is token_decision.Verdict.REFUSE:
        raise tokens.refusal(decision)
    if decision.verdict is token_decision.Verdict.REFRESH:
        return tokens.refresh_access_token(
            grant_id=grant.id, min_valid=min_valid, force=force, asked_at=now
        )
    ciphertext, expires = grant.access_token_encrypted, grant.access_token_expires_at
    # handed out only when a token and its expiry are stored
    assert ciphertext is not None and expires is not None
    try:
        token = decrypt_token(ciphertext, context=str(grant.id))
    except TokenDecryptError:
        raise tokens.GrantInactive("token_unreadable") from None
    return tokens.IssuedToken(token, expires, grant.api_domain, refreshed=False)


def _snapshot(grant: GrantState) -> token_decision.GrantSnapshot:
    return token_decision.GrantSnapshot(
        status=grant.status,
        owner_is_active=grant.owner_is_active,
        access_token_expires_at=grant.access_token_expires_at,
        has_access_token=grant.access_token_encrypted is not None,
        last_refreshed_at=grant.last_refreshed_at,
    )


def refusal_problem(error: tokens.GrantError) -> JsonResponse:
    """The throttle is 429, a grant that hands out nothing 409, anything else 503."""
    if isinstance(error, tokens.RefreshTooSoon):
        return problem(error.code, 429, retry_after=error.retry_after)
    if isinstance(error, tokens.GrantInactive):
        return problem(error.code, 409)
    return problem(error.code, 503, retry_after=error.retry_after or 5)


_INSERT = """
INSERT INTO portal_tokenissuance
    (service_key_id, grant_id, access_token_expires_at, first_issued_at)
VALUES (%s, %s, %s, now())
ON CONFLICT DO NOTHING
RETURNING id, (SELECT g.user_id FROM portal_zohogrant g WHERE g.id = grant_id)
"""


def _record_issuance(caller: Caller, grant: GrantState, expires: datetime) -> None:
    """First time this key receives this token: one issuance row and one audit event."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_INSERT, [caller.key_id, grant.id, expires])
            inserted = cursor.fetchone()
        if inserted:
            record_event(
                action=AuditEvent.Action.TOKEN_ISSUED,
                actor=caller,
                grant=_GrantLabel(grant.id, owner_id=inserted[1]),
                detail={"service_key": str(caller), "expires_at": str(expires)},
            )


class _GrantLabel:
    """What the audit log needs of a grant: its id, its owner, and a label without secrets."""

    def __init__(self, pk: UUID, *, owner_id: int | None) -> None:
        self.pk = pk
        self.user_id = owner_id

    def __str__(self) -> str:
        return f"grant {self.pk}"


def touch(caller: Caller, grant: GrantState, now: datetime) -> None:
    """Keep "last used" roughly current without writing on every request."""
    stale = now - TOUCH_INTERVAL
    if caller.key_last_used_at is None or caller.key_last_used_at < stale:
        ServiceKey.objects.filter(pk=caller.key_id).update(last_used_at=now)
    if grant.last_used_at is None or grant.last_used_at < stale:
        ZohoGrant.objects.filter(pk=grant.id).update(last_used_at=now)
