"""``/sandbox/<dc>/accounts/oauth/v2/auth``: Zoho's consent page and its decision."""

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.csp import CSP
from django.views.decorators.http import require_http_methods

from sandbox.authorization import (
    AuthRequest,
    AuthRequestInvalid,
    approve,
    callback_url,
    offered_accounts,
    parse_auth_request,
)
from sandbox.config import current_settings
from sandbox.datacentres import accounts_server
from sandbox.records import SandboxRequest
from sandbox.views.endpoint import faults_before, modifiers, zoho_endpoint


@zoho_endpoint("auth", csrf_protected=True)
@require_http_methods(["GET", "POST"])
def auth(request: SandboxRequest, dc: str) -> HttpResponseBase:
    """GET shows the consent page; POST (Accept or Deny) redirects back to the client."""
    draft = request.sandbox
    draft.client_id = request.GET.get("client_id", "")
    zuid = request.POST.get("zuid", "") if request.method == "POST" else ""
    blocked = faults_before(request, zuid=zuid if zuid.isdigit() else None)
    if blocked is not None:
        return blocked
    config = current_settings()
    try:
        auth_request = parse_auth_request(request.GET, dc=dc, config=config)
    except AuthRequestInvalid as problem:
        draft.error_code = problem.error
        if problem.redirect_uri is None:
            return _error_page(request, dc, problem.error, status=400)
        return HttpResponseRedirect(
            callback_url(problem.redirect_uri, [("error", problem.error), ("state", problem.state)])
        )
    if request.method == "GET":
        return _consent_page(request, dc, auth_request)
    return _decide(request, dc, auth_request)


def _decide(request: SandboxRequest, dc: str, auth_request: AuthRequest) -> HttpResponseBase:
    draft = request.sandbox
    redirect_uri, state = auth_request.redirect_uri, auth_request.state
    if request.POST.get("decision") != "approve":
        draft.error_code = "access_denied"
        return HttpResponseRedirect(
            callback_url(redirect_uri, [("error", "access_denied"), ("state", state)])
        )
    zuid = request.POST.get("zuid", "")
    account = next((a for a in offered_accounts(dc) if a.zuid == zuid), None)
    if account is None:
        return _consent_page(request, dc, auth_request, problem="Choose a Zoho user.", status=400)
    draft.zuid = account.zuid
    if account.data_centre not in auth_request.client.data_centres:
        draft.error_code = "invalid_client"
        return _error_page(request, dc, "invalid_client", status=400, user_dc=account.data_centre)
    changes = modifiers(request, zuid=account.zuid)
    if "callback_error" in changes:
        params = changes["callback_error"].params
        draft.error_code = str(params.get("error", "server_error"))
        return HttpResponseRedirect(
            callback_url(
                redirect_uri,
                [
                    ("error", draft.error_code),
                    ("error_description", params.get("description") or None),
                    ("state", state),
                ],
            )
        )
    scope = changes["grant_scope"].params["value"] if "grant_scope" in changes else None
    code = approve(auth_request, account=account, scope=scope, config=current_settings())
    location = account.data_centre
    server = accounts_server(request, location)
    if "callback_location" in changes:
        location = changes["callback_location"].params["value"]
    if "callback_accounts_server" in changes:
        server = changes["callback_accounts_server"].params["value"]
    return HttpResponseRedirect(
        callback_url(
            redirect_uri,
            [("code", code), ("location", location), ("accounts-server", server), ("state", state)],
        )
    )


def _consent_page(
    request: SandboxRequest,
    dc: str,
    auth_request: AuthRequest,
    *,
    problem: str = "",
    status: int = 200,
) -> HttpResponseBase:
    accounts = offered_accounts(dc)
    response = render(
        request,
        "sandbox/consent.html",
        {
            "dc": dc,
            "client_name": auth_request.client.name or auth_request.client.client_id,
            "client_id": auth_request.client.client_id,
            "scopes": auth_request.scopes,
            "offline": auth_request.access_type == "offline",
            "accounts": accounts,
            "problem": problem,
            "action": request.get_full_path(),
        },
        status=status,
    )
    # Browsers apply form-action to the redirect after Accept/Deny: allow the client's origin.
    parts = urlsplit(auth_request.redirect_uri)
    policy = dict(settings.SECURE_CSP)
    policy["form-action"] = [CSP.SELF, f"{parts.scheme}://{parts.netloc}"]
    # What Django's csp_override decorator sets and its CSP middleware reads; private, so
    # django-stubs leaves it out of HttpResponse.
    response._csp_config = policy  # type: ignore[attr-defined]
    return response


ERROR_TEXT = {
    "invalid_client": "Invalid client: this application is not registered in this data centre.",
    "invalid_redirect_uri": "Invalid redirect URI: it does not match the registered one.",
    "invalid_request": "Invalid request: a parameter was given more than once.",
}


def _error_page(
    request: SandboxRequest, dc: str, error: str, *, status: int, user_dc: str = ""
) -> HttpResponseBase:
    message = ERROR_TEXT.get(error, error)
    if user_dc:
        message = f"This application has not enabled Multi DC support for {user_dc.upper()}."
    return render(
        request,
        "sandbox/error.html",
        {"dc": dc, "error": error, "message": message},
        status=status,
    )
