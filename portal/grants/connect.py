"""Connecting a Zoho account: start the authorization request, finish it at the callback.

The callback follows a fixed order so nothing leaves the portal before it is safe to:
consume the state, honour an ``error``, map the callback to a pinned data centre, and only
then exchange the code, identify the Zoho user and their Desk organizations, and store.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts.audit import AuditContext, record_event
from accounts.models import AuditEvent, User
from portal import zoho
from portal.crypto import TokenDecryptError, decrypt_token, encrypt_token
from portal.grants import client_health, early_warning, events, lifecycle, oauth_state, orphans
from portal.grants.wording import connect_failure
from portal.models import ZohoGrant

logger = logging.getLogger(__name__)
Action = AuditEvent.Action
ONE_LIVE_GRANT = "portal_one_live_grant_per_zoho_user"


class ConnectFailed(Exception):
    """The connection could not be made; ``reason`` is a short code, ``message`` is for people."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        self.message = message
        super().__init__(reason)


@dataclass(frozen=True)
class CallbackParams:
    state: str
    code: str
    location: str
    accounts_server: str
    error: str


@dataclass(frozen=True)
class Connected:
    grant: ZohoGrant
    reconnected: bool
    merged: bool = False  # a racing callback for the same Zoho user had already connected


def start_connect(
    *,
    context: AuditContext,
    user: User,
    session_key: str,
    region: str,
    grant: ZohoGrant | None = None,
) -> str:
    """Record a pending request for ``user`` and return Zoho's authorize URL.

    ``session_key`` must name a saved session: the callback is matched to it.
    """
    start = zoho.start_data_centre(region)
    state, verifier = oauth_state.create_pending(
        user_id=user.pk,
        session_key=session_key,
        region=region,
        grant_id=grant.pk if grant else None,
    )
    record_event(
        action=Action.CONNECT_STARTED,
        context=context,
        grant=grant,
        detail={"region": region, "start_dc": start.code},
    )
    return zoho.authorize_url(dc=start, state=state, code_verifier=verifier)


@sensitive_variables("params", "pending", "tokens")
def finish_connect(
    *, context: AuditContext, user: User, session_key: str, params: CallbackParams
) -> Connected:
    """Complete a connection from Zoho's callback or raise :class:`ConnectFailed` (audited)."""
    try:
        pending = oauth_state.consume_pending(
            user_id=user.pk, session_key=session_key, state=params.state
        )
    except oauth_state.StateError as error:
        raise _failed(context, error.reason) from None
    if params.error:
        reason = "declined" if params.error == "access_denied" else "provider_error"
        raise _failed(context, reason, zoho_error=params.error)
    if not params.code:
        raise _failed(context, "no_code")
    try:
        dc = zoho.data_centre_for_callback(
            location=params.location or _pinned_location(pending),
            accounts_server=params.accounts_server,
        )
    except zoho.UntrustedAccountsServer as error:
        logger.warning("callback refused: %s", error.code)
        raise _failed(context, "untrusted_server", check=error.code) from None
    tokens = None
    try:
        tokens = zoho.exchange_code(dc=dc, code=params.code, code_verifier=pending.code_verifier)
        with transaction.atomic():  # Zoho took the portal's client: any rejection is over
            client_health.note_working(data_centre=dc.code)
        if not tokens.refresh_token:
            raise _failed(context, "no_refresh_token", dc=dc.code)
        if missing := missing_scopes(tokens.scope):
            orphans.let_go(
                token=tokens.refresh_token, data_centre=dc.code, reason="scope_missing", actor=user
            )
            raise _failed(context, "scope_missing", dc=dc.code, missing=",".join(missing))
        who, orgs = identify(dc=dc, access_token=tokens.access_token)
    except zoho.ZohoError as error:
        if tokens is not None and tokens.refresh_token:
            # Zoho minted a refresh token that will not be stored: give it back (held for the
            # sweep if Zoho cannot take it now), or it lives on, counting toward Zoho's cap.
            orphans.let_go(
                token=tokens.refresh_token, data_centre=dc.code, reason="not_stored", actor=user
            )
        raise _exchange_failed(context, dc, error) from None
    return store_grant(context=context, user=user, dc=dc, tokens=tokens, who=who, orgs=orgs)


def missing_scopes(granted: str) -> list[str]:
    """The required scopes (``ZOHO_REQUIRED_SCOPES``) a token's granted ``scope`` lacks (OA-20).

    Zoho's answer names the granted scopes comma-separated; an answer that names none tells
    nothing, and counts as what was asked for (as the grant then records).
    """
    names = {scope.strip().lower() for scope in granted.split(",") if scope.strip()}
    if not names:
        return []
    return [scope for scope in settings.ZOHO_REQUIRED_SCOPES if scope.lower() not in names]


@sensitive_variables("access_token")
def identify(
    *, dc: zoho.DataCentre, access_token: str
) -> tuple[zoho.ZohoUser, list[zoho.DeskOrganization]]:
    """Who granted a new token and their Desk organizations (before :func:`store_grant`)."""
    who = zoho.user_info(dc=dc, access_token=access_token)
    return who, zoho.organizations(dc=dc, access_token=access_token)


def _pinned_location(pending: oauth_state.Pending) -> str:
    """The DC a callback without ``location`` is held to: the one the request started at.

    Only for a separate cluster (China): there the start server is the user's own DC, and
    China's callback may omit ``location``. A global request is routed by Zoho to any DC,
    so a missing ``location`` there names nothing and stays refused (OA-03c).
    """
    start = zoho.start_data_centre(pending.region)
    return start.code if pending.region == start.code else ""


def _exchange_failed(
    context: AuditContext, dc: zoho.DataCentre, error: zoho.ZohoError
) -> ConnectFailed:
    """Audit the failure; Zoho refusing the portal's own client also pauses that data centre
    and tells staff, as a refresh meeting it does (``client_health``)."""
    with transaction.atomic():
        if isinstance(error, zoho.ZohoMisconfigured):
            client_health.note_rejected(data_centre=dc.code, error=error.code)
        return _failed(context, _reason_for(error), dc=dc.code, zoho_error=error.code)


def _reason_for(error: zoho.ZohoError) -> str:
    if isinstance(error, zoho.ZohoMisconfigured):
        return "misconfigured"
    if isinstance(error, zoho.ZohoRejected):
        return "rejected"
    return "unavailable"


def _failed(context: AuditContext, reason: str, **detail: str) -> ConnectFailed:
    record_event(
        action=Action.CONNECT_FAILED,
        context=context,
        outcome=AuditEvent.Outcome.FAILURE,
        detail={"reason": reason, **detail},
    )
    return ConnectFailed(reason, connect_failure(reason))


@sensitive_variables("tokens", "unkept")
def store_grant(
    *,
    context: AuditContext,
    user: User,
    dc: zoho.DataCentre,
    tokens: zoho.TokenSet,
    who: zoho.ZohoUser,
    orgs: list[zoho.DeskOrganization],
    on_stored: Callable[[ZohoGrant], None] | None = None,
) -> Connected:
    """Create the grant, or update the live one for the same Zoho user and DC in place.

    The one way a grant is stored, whether its tokens come from a callback's code or from a
    migrated authtoken or refresh token (``portal.migration.conversion``). Every refresh
    token not kept (the one a reconnect replaces, or this one when a racing connect for the
    same Zoho user created the grant first) is held for revocation in the same transaction
    and revoked at Zoho after the commit. ``on_stored`` runs in that transaction with the
    kept grant, after its audit row.
    """
    now = timezone.now()
    merged = False
    with transaction.atomic():
        grant = _live_grant(user=user, dc=dc, who=who)
        reconnected = grant is not None
        unkept = _readable_refresh_token(grant) if grant else ""
        mine = grant or ZohoGrant(user=user, data_centre=dc.code)
        _fill(mine, dc=dc, tokens=tokens, who=who, orgs=orgs, now=now)
        if reconnected:
            mine.save()
        elif not _inserted(mine):
            merged, unkept = True, tokens.refresh_token or ""
        kept = _live_grant(user=user, dc=dc, who=who) if merged else mine
        orphan = (
            orphans.keep_for_revocation(
                token=unkept,
                data_centre=dc.code,
                grant_id=kept.pk if kept else None,
                reason="duplicate_connect" if merged else "superseded",
            )
            if unkept
            else None
        )
        if kept is not None:
            _record_connected(context=context, grant=kept, reconnected=reconnected, merged=merged)
            if on_stored is not None:
                on_stored(kept)
    if orphan is not None:
        orphans.revoke_orphan(orphan_id=orphan.pk, actor=user)
    if kept is None:  # the racing winner's grant was revoked meanwhile
        raise _failed(context, "unavailable", dc=dc.code)
    # One more refresh token minted for this Zoho user: near Zoho's cap of 20, warn everyone.
    early_warning.evaluate_token_cap(
        data_centre=kept.data_centre, zoho_user_id=kept.zoho_user_id, healthy_id=kept.pk
    )
    return Connected(grant=kept, reconnected=reconnected, merged=merged)


def _live_grant(*, user: User, dc: zoho.DataCentre, who: zoho.ZohoUser) -> ZohoGrant | None:
    return (
        ZohoGrant.objects.select_for_update()
        .filter(user=user, data_centre=dc.code, zoho_user_id=who.user_id)
        .exclude(status=ZohoGrant.Status.REVOKED)
        .first()
    )


def _inserted(grant: ZohoGrant) -> bool:
    """Insert a new grant; False when a racing callback already created the live one.

    The unique constraint makes the insert wait for the other transaction and fail once it
    commits; the savepoint keeps the outer transaction usable.
    """
    try:
        with transaction.atomic():
            grant.save(force_insert=True)
    except IntegrityError as error:
        if ONE_LIVE_GRANT not in str(error):
            raise
        return False
    return True


@sensitive_variables("token")
def _readable_refresh_token(grant: ZohoGrant) -> str:
    """The refresh token a reconnect replaces ("" when there is none or it cannot be read)."""
    if grant.refresh_token_encrypted is None:
        return ""
    try:
        return decrypt_token(bytes(grant.refresh_token_encrypted), context=str(grant.pk))
    except TokenDecryptError:
        logger.warning("replaced token of grant %s unreadable, not revoked", grant.pk)
        return ""


def _record_connected(
    *, context: AuditContext, grant: ZohoGrant, reconnected: bool, merged: bool
) -> None:
    if merged:
        # A racing callback for the same Zoho user stored this grant first; this one's token
        # is held for revocation instead.
        record_event(action=Action.CONNECT_MERGED, context=context, grant=grant)
        return
    others = _same_zoho_account_elsewhere(grant)
    record_event(
        action=Action.RECONNECTED if reconnected else Action.CONNECTED,
        context=context,
        grant=grant,
        detail={
            "dc": grant.data_centre,
            "organizations": len(grant.organizations),
            "shared_with_users": len(others),
        },
    )
    kind = events.EventType.RECONNECTED if reconnected else events.EventType.CONNECTED
    events.emit(event_type=kind, grant=grant)
    for other in others:
        record_event(
            action=Action.CONNECTED,
            context=context,
            grant=other,
            detail={"note": "same Zoho account connected by another portal user"},
        )


def _fill(
    grant: ZohoGrant,
    *,
    dc: zoho.DataCentre,
    tokens: zoho.TokenSet,
    who: zoho.ZohoUser,
    orgs: list[zoho.DeskOrganization],
    now: datetime,
) -> None:
    grant.accounts_server = dc.accounts_url
    grant.desk_base_url = dc.desk_api_base
    grant.api_domain = tokens.api_domain
    grant.zoho_user_id = who.user_id
    grant.zoho_email = who.email
    grant.display_name = who.display_name
    grant.organizations = [{"id": org.id, "name": org.name} for org in orgs]
    grant.scope = tokens.scope or ",".join(settings.ZOHO_SCOPES)
    lifecycle.move(grant, to=ZohoGrant.Status.ACTIVE)
    grant.refresh_token_encrypted = encrypt_token(tokens.refresh_token or "", context=str(grant.pk))
    grant.access_token_encrypted = encrypt_token(tokens.access_token, context=str(grant.pk))
    grant.access_token_expires_at = tokens.expires_at
    grant.connected_at = grant.last_refreshed_at = now
    grant.failure_count = 0
    grant.last_error = ""


def _same_zoho_account_elsewhere(grant: ZohoGrant) -> list[ZohoGrant]:
    """Live grants of other portal users for the same Zoho user in the same DC."""
    return list(
        ZohoGrant.objects.filter(data_centre=grant.data_centre, zoho_user_id=grant.zoho_user_id)
        .exclude(user_id=grant.user_id)
        .exclude(status=ZohoGrant.Status.REVOKED)
        .only("pk", "user_id", "zoho_email", "zoho_user_id", "data_centre")
    )
