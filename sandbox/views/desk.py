"""``/sandbox/<dc>/desk/api/v1/organizations`` and ``.../myinfo`` (reference §7); tickets
are in ``desk_tickets.py``.

Authorization is ``Zoho-oauthtoken <token>`` only; errors carry ``errorCode`` and ``message``.
"""

from typing import Any

from django.http import JsonResponse
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_GET

from sandbox.datacentres import desk_base
from sandbox.models import AccessToken, DeskOrganization, ZohoAccount
from sandbox.records import SandboxRequest
from sandbox.scopes import scope_allows_any
from sandbox.tokens import access_row, valid_access_token
from sandbox.views.endpoint import bearer_token, faults_before, zoho_endpoint

ORGANIZATIONS_SCOPES = ("Desk.basic.READ",)
MYINFO_SCOPES = ("Desk.basic.READ", "Desk.settings.READ")  # either one is enough


def desk_error(
    request: SandboxRequest, code: str, message: str, status: int, **extra: Any
) -> JsonResponse:
    """A Desk error body (``errorCode``, ``message``), noted in the request record."""
    request.sandbox.error_code = code
    return JsonResponse({"errorCode": code, "message": message, **extra}, status=status)


@zoho_endpoint("desk_organizations")
@require_GET
def organizations(request: SandboxRequest, dc: str) -> HttpResponseBase:
    """The organizations the token's user is an agent in (no ``orgId`` needed)."""
    access = authorize(request, dc, ORGANIZATIONS_SCOPES)
    if isinstance(access, HttpResponseBase):
        return access
    orgs = access.account.orgs.all()
    return JsonResponse({"data": [_organization(request, dc, org) for org in orgs]})


@zoho_endpoint("desk_myinfo")
@require_GET
def myinfo(request: SandboxRequest, dc: str) -> HttpResponseBase:
    """The agent behind the token in the organization named by the ``orgId`` header."""
    access = authorize(request, dc, MYINFO_SCOPES)
    if isinstance(access, HttpResponseBase):
        return access
    org = agent_organization(request, access)
    if isinstance(org, HttpResponseBase):
        return org
    return JsonResponse(_agent(access.account, org))


def agent_organization(
    request: SandboxRequest, access: AccessToken
) -> DeskOrganization | HttpResponseBase:
    """The organization the ``orgId`` header names, when the token's user is an agent there;
    else Desk's answer: 422 for a missing or malformed id, 401 ``OAUTH_ORG_MISMATCH``."""
    org_id = request.headers.get("orgId", "").strip()
    request.sandbox.org_id = org_id
    if not org_id.isdigit():
        return desk_error(
            request,
            "UNPROCESSABLE_ENTITY",
            "The orgId header is missing or invalid.",
            422,
            errors=[{"fieldName": "/orgId", "errorType": "missing" if not org_id else "invalid"}],
        )
    org = access.account.orgs.filter(org_id=org_id).first()
    if org is None:
        return desk_error(
            request,
            "OAUTH_ORG_MISMATCH",
            "The OAuth token was not generated for this organization.",
            401,
        )
    return org


def authorize(
    request: SandboxRequest, dc: str, scopes: tuple[str, ...]
) -> AccessToken | HttpResponseBase:
    """The access token's row when it may call an endpoint needing one of ``scopes``, else
    Desk's error answer. Notes the header names received (never values) in the record."""
    draft = request.sandbox
    draft.header_names = sorted(request.headers)
    value = bearer_token(request, schemes=("zoho-oauthtoken",))
    known = access_row(value)
    if known is not None:
        draft.zuid, draft.client_id = known.account.zuid, known.client.client_id
        draft.grant_id = known.refresh_token_id
    blocked = faults_before(request, zuid=known.account.zuid if known else None)
    if blocked is not None:
        return blocked
    access = valid_access_token(dc=dc, token=value)
    if access is None:
        return desk_error(request, "INVALID_OAUTH", "The OAuth token is invalid or expired.", 401)
    if not scope_allows_any(access.scope, scopes):
        return desk_error(
            request,
            "SCOPE_MISMATCH",
            "The OAuth token does not contain the scope needed for this operation.",
            401,
        )
    return access


def _organization(request: SandboxRequest, dc: str, org: DeskOrganization) -> dict[str, Any]:
    return {
        "id": int(org.org_id),
        "companyName": org.company_name,
        "portalName": org.portal_name,
        "portalURL": org.portal_url or f"{desk_base(request, dc)}/support/{org.portal_name}",
        "edition": org.edition,
        "isDefault": org.is_default,
        "isAdminInOrg": True,
        "isSandboxPortal": False,
        "isPayloadEncryptionEnabled": False,
        "logoURL": None,
        "phoneNumber": "",
        "faxNumber": None,
        "description": None,
    }


def _agent(account: ZohoAccount, org: DeskOrganization) -> dict[str, Any]:
    return {
        "id": org.agent_id,
        "zuid": account.zuid,
        "emailId": account.email,
        "firstName": account.first_name,
        "lastName": account.last_name,
        "name": account.display_name,
        "status": "ACTIVE",
        "isConfirmed": True,
        "roleId": f"{org.org_id}0001",
        "profileId": f"{org.org_id}0002",
        "rolePermissionType": "Admin",
        "associatedDepartmentIds": [f"{org.org_id}0003"],
        "photoURL": None,
    }
