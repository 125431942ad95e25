"""``/sandbox/<dc>/accounts/oauth/v2/token`` and ``.../token/revoke`` (reference §4–§6).

Zoho answers OAuth errors with HTTP 200 and ``{"error": "<code>"}``; so does the sandbox.
"""

import json
from typing import Any

from django.http import JsonResponse
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_POST

from sandbox.clients import find_client, secret_matches
from sandbox.codes import code_row, exchange_code
from sandbox.config import current_settings
from sandbox.datacentres import api_domain
from sandbox.models import Client, Fault, SandboxSettings
from sandbox.records import Draft, SandboxRequest
from sandbox.tokens import (
    Issued,
    OAuthFailure,
    UnknownToken,
    access_row,
    refresh_access_token,
    refresh_row,
    revoke_token,
)
from sandbox.views.endpoint import (
    client_credentials,
    faults_before,
    modifiers_applied,
    no_store,
    oauth_params,
    zoho_endpoint,
)

GRANT_TYPES = ("authorization_code", "refresh_token")


@zoho_endpoint("token")
@require_POST
def token(request: SandboxRequest, dc: str) -> HttpResponseBase:
    """Code exchange (``authorization_code``) and refresh (``refresh_token``)."""
    draft = request.sandbox
    params = oauth_params(request)
    grant_type = params.get("grant_type", "")
    client_id, secret = client_credentials(request, params)
    draft.client_id = client_id
    zuid = _identify(draft, grant_type, params)
    blocked = faults_before(request, zuid=zuid)
    if blocked is not None:
        return blocked
    try:
        if grant_type not in GRANT_TYPES:
            raise OAuthFailure("unsupported_grant_type")
        client = checked_client(client_id, dc, secret)
        config = current_settings()
        if grant_type == "authorization_code":
            body = _exchange(request, dc, client, params, zuid, config)
        else:
            body = _refresh(request, dc, client, params, zuid, config)
    except OAuthFailure as failure:
        draft.error_code = failure.error
        return no_store(JsonResponse(failure.body))
    return no_store(JsonResponse(body))


def _identify(draft: Draft, grant_type: str, params: dict[str, str]) -> str | None:
    """Who the request is about (for the record and ZUID-scoped faults), before any work."""
    if grant_type == "refresh_token":
        draft.endpoint = "refresh"
        grant = refresh_row(params.get("refresh_token", ""))
        if grant is None:
            return None
        draft.grant_id = grant.pk
        draft.zuid = grant.account.zuid
        return grant.account.zuid
    code = code_row(params.get("code", "")) if grant_type == "authorization_code" else None
    if code is None:
        return None
    draft.zuid = code.account.zuid
    return code.account.zuid


def _exchange(
    request: SandboxRequest,
    dc: str,
    client: Client,
    params: dict[str, str],
    zuid: str | None,
    config: SandboxSettings,
) -> dict[str, Any]:
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:
        raise OAuthFailure("invalid_redirect_uri")
    with modifiers_applied(request, zuid=zuid) as changes:
        issued = exchange_code(
            client=client,
            dc=dc,
            code=params.get("code", ""),
            redirect_uri=redirect_uri,
            code_verifier=params.get("code_verifier", ""),
            config=config,
            omit_refresh_token="omit_refresh_token" in changes,
        )
    return _token_body(request, issued, changes, config, with_scope=True)


def _refresh(
    request: SandboxRequest,
    dc: str,
    client: Client,
    params: dict[str, str],
    zuid: str | None,
    config: SandboxSettings,
) -> dict[str, Any]:
    with modifiers_applied(request, zuid=zuid) as changes:
        issued = refresh_access_token(
            client=client,
            dc=dc,
            refresh_token=params.get("refresh_token", ""),
            config=config,
            rotate="rotate_refresh_token" in changes,
        )
    return _token_body(request, issued, changes, config, with_scope=False)


def _token_body(
    request: SandboxRequest,
    issued: Issued,
    changes: dict[str, Fault],
    config: SandboxSettings,
    *,
    with_scope: bool,
) -> dict[str, Any]:
    draft = request.sandbox
    draft.grant_id = issued.grant_id
    draft.zuid = issued.account.zuid
    body: dict[str, Any] = {"access_token": issued.access_token}
    if issued.refresh_token:
        body["refresh_token"] = issued.refresh_token
    if with_scope:
        body["scope"] = issued.scope
    domain = changes["api_domain"].params["value"] if "api_domain" in changes else None
    body["api_domain"] = domain or api_domain(issued.dc)
    body["token_type"] = "Bearer"
    if "legacy_expiry" in changes:
        body["expires_in_sec"] = config.access_token_lifetime
        body["expires_in"] = config.access_token_lifetime * 1000
    else:
        body["expires_in"] = config.access_token_lifetime
    if "token_field" in changes:
        set_field(body, changes["token_field"].params)
    return body


def set_field(body: dict[str, Any], params: dict[str, Any]) -> None:
    """The ``token_field`` fault: a field set to a JSON value (other text: a string) or gone."""
    name, value = str(params["field"]), str(params.get("value") or "")
    if not value:
        body.pop(name, None)
        return
    try:
        body[name] = json.loads(value)
    except ValueError:
        body[name] = value


@zoho_endpoint("revoke")
@require_POST
def revoke(request: SandboxRequest, dc: str) -> HttpResponseBase:
    """Revoke a refresh token (and its access tokens) or an access token: 400 when unknown."""
    draft = request.sandbox
    params = oauth_params(request)
    draft.client_id = params.get("client_id", "")
    value = params.get("token", "")
    known = refresh_row(value) or access_row(value)
    zuid = known.account.zuid if known else None
    if known is not None:
        draft.zuid = known.account.zuid
        draft.client_id = draft.client_id or known.client.client_id
        draft.grant_id = getattr(known, "refresh_token_id", known.pk)
    blocked = faults_before(request, zuid=zuid)
    if blocked is not None:
        return blocked
    try:
        revoke_token(dc=dc, token=value, any_dc=current_settings().revoke_at_any_dc)
    except UnknownToken:
        draft.error_code = "invalid_token"
        return no_store(JsonResponse({"error": "invalid_token"}, status=400))
    return no_store(JsonResponse({"status": "success"}))


def checked_client(client_id: str, dc: str, secret: str) -> Client:
    """The client these credentials name in this data centre, as Zoho checks them: an unknown
    client (or one not enabled there) is ``invalid_client``, a wrong secret
    ``invalid_client_secret``."""
    client = find_client(client_id)
    if client is None or dc not in client.data_centres:
        raise OAuthFailure("invalid_client")
    if not secret_matches(client, dc, secret):
        raise OAuthFailure("invalid_client_secret")
    return client
