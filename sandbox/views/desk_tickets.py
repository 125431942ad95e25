"""``/sandbox/<dc>/desk/api/v1/tickets`` and ``.../tickets/<id>``: a few Desk ticket calls,
enough for the portal's Desk proxy to be exercised end to end.

As Desk: ``Authorization: Zoho-oauthtoken``, the organization in the ``orgId`` header (422
when missing or not a number, 401 ``OAUTH_ORG_MISMATCH`` when the token's user is no agent
there), the ``Desk.tickets.*`` scopes, ``from``/``limit`` paging (``limit`` 1 to 100),
JSON bodies, errors as ``errorCode`` and ``message``. A list with no tickets is 204, as Desk
answers. Deleting a ticket answers 204 (Desk moves tickets to the trash with a POST; the
sandbox takes ``DELETE`` to give the proxy's every method a real answer). ``PUT`` is not a
ticket method: 405 ``METHOD_NOT_ALLOWED``.
"""

import json
from typing import Any

from django.db.models import Max
from django.http import HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.utils import timezone

from sandbox.models import DeskOrganization, DeskTicket
from sandbox.records import SandboxRequest
from sandbox.views.desk import agent_organization, authorize, desk_error
from sandbox.views.endpoint import zoho_endpoint

SCOPES = {
    "GET": ("Desk.tickets.READ",),
    "POST": ("Desk.tickets.CREATE", "Desk.tickets.WRITE"),
    "PATCH": ("Desk.tickets.UPDATE", "Desk.tickets.WRITE"),
    "DELETE": ("Desk.tickets.DELETE",),
}
EDITABLE = ("subject", "description", "status", "email")


@zoho_endpoint("desk_tickets")
def tickets(request: SandboxRequest, dc: str) -> HttpResponseBase:
    """GET: a page of the organization's tickets; POST: create one."""
    if request.method not in ("GET", "POST"):
        return _not_allowed(request)
    org = _organization(request, dc)
    if isinstance(org, HttpResponseBase):
        return org
    if request.method == "POST":
        return _create(request, org)
    start, limit = request.GET.get("from", "0"), request.GET.get("limit", "10")
    if not (start.isdigit() and limit.isdigit() and int(start) <= 10**6 and 0 < int(limit) <= 100):
        return _invalid(request, "from" if not start.isdigit() else "limit")
    rows = org.tickets.all()[int(start) : int(start) + int(limit)]
    if not rows:
        return HttpResponse(status=204)
    return _answer({"data": [_ticket(row) for row in rows]})


@zoho_endpoint("desk_ticket")
def ticket(request: SandboxRequest, dc: str, ticket_id: str) -> HttpResponseBase:
    """GET, PATCH or DELETE one ticket of the organization."""
    if request.method not in ("GET", "PATCH", "DELETE"):
        return _not_allowed(request)
    org = _organization(request, dc)
    if isinstance(org, HttpResponseBase):
        return org
    known = ticket_id.isdigit() and len(ticket_id) <= 18
    row = org.tickets.filter(pk=int(ticket_id)).first() if known else None
    if row is None:
        return desk_error(request, "URL_NOT_FOUND", "The requested ticket does not exist.", 404)
    if request.method == "DELETE":
        row.delete()
        return HttpResponse(status=204)
    if request.method == "PATCH":
        changes = _json(request)
        if changes is None or not set(changes) <= set(EDITABLE):
            return _invalid(request, "body")
        for name, value in changes.items():
            setattr(row, name, str(value)[:255])
        row.modified_at = timezone.now()
        row.save()
    return _answer(_ticket(row))


def _organization(request: SandboxRequest, dc: str) -> DeskOrganization | HttpResponseBase:
    access = authorize(request, dc, SCOPES[request.method or "GET"])
    if isinstance(access, HttpResponseBase):
        return access
    return agent_organization(request, access)


def _create(request: SandboxRequest, org: DeskOrganization) -> HttpResponseBase:
    fields = _json(request)
    if fields is None or not str(fields.get("subject") or "").strip():
        return _invalid(request, "subject", missing=True)
    number = (org.tickets.aggregate(n=Max("ticket_number"))["n"] or 100) + 1
    row = DeskTicket.objects.create(
        org=org,
        ticket_number=number,
        **{name: str(fields.get(name) or "")[:255] for name in EDITABLE if fields.get(name)},
    )
    return _answer(_ticket(row))


def _json(request: SandboxRequest) -> dict[str, Any] | None:
    if not (request.content_type or "").startswith("application/json"):
        return None
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _invalid(request: SandboxRequest, name: str, *, missing: bool = False) -> HttpResponseBase:
    return desk_error(
        request,
        "UNPROCESSABLE_ENTITY",
        f"The {name} is missing or invalid.",
        422,
        errors=[{"fieldName": f"/{name}", "errorType": "missing" if missing else "invalid"}],
    )


def _not_allowed(request: SandboxRequest) -> HttpResponseBase:
    response = desk_error(
        request, "METHOD_NOT_ALLOWED", "The requested method is not allowed here.", 405
    )
    return response


def _answer(data: dict[str, Any]) -> JsonResponse:
    """Desk's answer, with a cookie of Desk's own (which the portal's proxy must not relay)."""
    response = JsonResponse(data)
    response.set_cookie("crmcsr", "sandbox-desk-session", httponly=True)
    response["X-Rate-Limit-Remaining"] = "1999"
    return response


def _ticket(row: DeskTicket) -> dict[str, Any]:
    return {
        "id": str(row.pk),
        "ticketNumber": str(row.ticket_number),
        "subject": row.subject,
        "description": row.description or None,
        "status": row.status,
        "email": row.email or None,
        "createdTime": row.created_at.isoformat(),
        "modifiedTime": row.modified_at.isoformat(),
    }
