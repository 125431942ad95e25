"""``/sandbox/<dc>/accounts/oauth/v2/token/external/authtooauth``: Zoho's migration API
(reference §8), which turns a legacy Desk authtoken into an OAuth grant.

Form fields ``client_id``, ``client_secret``, ``grant_type=authtooauth``, ``authtoken``,
``soid=ZohoSupport.<orgId>`` (and ``scope`` for a self client). Success answers the old token
format: ``expires_in_sec`` in seconds and ``expires_in`` in milliseconds. Errors are HTTP 200
with ``{"error": "<code>"}``, like the token endpoint.
"""

from typing import Any

from django.conf import settings
from django.http import JsonResponse
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_POST

from sandbox.authtokens import authtoken_owner, convert
from sandbox.config import current_settings
from sandbox.datacentres import api_domain
from sandbox.records import SandboxRequest
from sandbox.tokens import OAuthFailure
from sandbox.views.endpoint import (
    client_credentials,
    faults_before,
    modifiers_applied,
    no_store,
    oauth_params,
    zoho_endpoint,
)
from sandbox.views.token import checked_client, set_field


@zoho_endpoint("authtooauth")
@require_POST
def authtooauth(request: SandboxRequest, dc: str) -> HttpResponseBase:
    """Convert an authtoken of a user of this DC, for one of the user's Desk orgs."""
    draft = request.sandbox
    params = oauth_params(request)
    client_id, secret = client_credentials(request, params)
    draft.client_id = client_id
    account = authtoken_owner(params.get("authtoken", ""))
    zuid = account.zuid if account is not None and account.data_centre == dc else None
    draft.zuid = zuid or ""
    blocked = faults_before(request, zuid=zuid)
    if blocked is not None:
        return blocked
    try:
        if params.get("grant_type", "") != "authtooauth":
            raise OAuthFailure("unsupported_grant_type")
        client = checked_client(client_id, dc, secret)
        config = current_settings()
        with modifiers_applied(request, zuid=zuid) as changes:
            issued = convert(
                client=client,
                dc=dc,
                account=account,
                soid=params.get("soid", ""),
                scope=params.get("scope") or ",".join(settings.ZOHO_SCOPES),
                config=config,
            )
    except OAuthFailure as failure:
        draft.error_code = failure.error
        return no_store(JsonResponse(failure.body))
    draft.grant_id = issued.grant_id
    body: dict[str, Any] = {
        "access_token": issued.access_token,
        "refresh_token": issued.refresh_token,
        "expires_in_sec": config.access_token_lifetime,
        "expires_in": config.access_token_lifetime * 1000,
        "api_domain": api_domain(dc),
        "token_type": "Bearer",
    }
    if "api_domain" in changes:
        body["api_domain"] = changes["api_domain"].params["value"]
    if "token_field" in changes:
        set_field(body, changes["token_field"].params)
    return no_store(JsonResponse(body))
