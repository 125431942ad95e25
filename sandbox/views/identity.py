"""``/sandbox/<dc>/accounts/oauth/user/info`` and ``.../oauth/serverinfo``."""

from django.http import JsonResponse
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_GET

from sandbox.datacentres import accounts_server, same_cluster
from sandbox.records import SandboxRequest
from sandbox.scopes import scope_allows
from sandbox.tokens import access_row, valid_access_token
from sandbox.views.endpoint import bearer_token, faults_before, no_store, zoho_endpoint

PROFILE_SCOPE = "AaaServer.profile.READ"


@zoho_endpoint("userinfo")
@require_GET
def user_info(request: SandboxRequest, dc: str) -> HttpResponseBase:
    """Who granted the token (needs ``AaaServer.profile.READ``)."""
    draft = request.sandbox
    value = bearer_token(request, schemes=("zoho-oauthtoken", "bearer"))
    known = access_row(value)
    if known is not None:
        draft.zuid, draft.client_id = known.account.zuid, known.client.client_id
        draft.grant_id = known.refresh_token_id
    blocked = faults_before(request, zuid=known.account.zuid if known else None)
    if blocked is not None:
        return blocked
    access = valid_access_token(dc=dc, token=value)
    if access is None:
        draft.error_code = "invalid_oauthtoken"
        return no_store(JsonResponse({"error": "invalid_oauthtoken"}, status=401))
    if not scope_allows(access.scope, PROFILE_SCOPE):
        draft.error_code = "invalid_oauthscope"
        return no_store(JsonResponse({"error": "invalid_oauthscope"}, status=401))
    account = access.account
    return no_store(
        JsonResponse(
            {
                "First_Name": account.first_name,
                "Email": account.email,
                "Last_Name": account.last_name,
                "Display_Name": account.display_name,
                "ZUID": int(account.zuid),
            }
        )
    )


@zoho_endpoint("serverinfo")
@require_GET
def server_info(request: SandboxRequest, dc: str) -> HttpResponseBase:
    """The accounts servers of this cluster, keyed by location (shape from third-party code)."""
    blocked = faults_before(request)
    if blocked is not None:
        return blocked
    locations = {code: accounts_server(request, code) for code in same_cluster(dc)}
    return JsonResponse({"result": "success", "locations": locations})
