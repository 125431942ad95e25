"""The API's webhook endpoints: register (secret shown once), list, rotate the secret, delete."""

from uuid import UUID

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods

from accounts.audit import AuditContext
from portal.api import caller as callers
from portal.api import problems
from portal.api.views import json_body, service_api
from portal.api.webhooks import endpoints


@require_http_methods(["GET", "POST"])
@service_api
@sensitive_variables("registered")
def webhooks(request: HttpRequest, caller: callers.Caller) -> JsonResponse:
    """GET lists every endpoint (no secrets); POST registers one and shows its secret once."""
    if request.method == "GET":
        listed = [endpoints.endpoint_payload(found) for found in endpoints.list_endpoints()]
        return problems.api_response({"webhooks": listed})
    body = json_body(request)
    if body is None:
        return problems.problem("bad_request", 400, detail="The body must be a JSON object.")
    try:
        registered = endpoints.register_endpoint(
            url=body.get("url"), events=body.get("events"), context=AuditContext(actor=caller)
        )
    except endpoints.EndpointRefused as refused:
        status = 409 if refused.code == "too_many_endpoints" else 400
        return problems.problem(refused.code, status, detail=refused.detail)
    payload = endpoints.endpoint_payload(registered.endpoint)
    return problems.api_response({**payload, "secret": registered.secret}, status=201)


@require_http_methods(["POST"])
@service_api
@sensitive_variables("rotated")
def webhook_secret(request: HttpRequest, caller: callers.Caller, webhook_id: UUID) -> JsonResponse:
    """A new secret, shown once; the previous one signs too for a day (both signatures sent)."""
    rotated = endpoints.rotate_secret(endpoint_id=webhook_id, context=AuditContext(actor=caller))
    if rotated is None:
        return problems.problem("not_found", 404, detail="No such webhook endpoint.")
    payload = endpoints.endpoint_payload(rotated.endpoint)
    return problems.api_response({**payload, "secret": rotated.secret})


@require_http_methods(["DELETE"])
@service_api
def webhook_delete(request: HttpRequest, caller: callers.Caller, webhook_id: UUID) -> HttpResponse:
    """Delete an endpoint and its delivery log (204), or 404."""
    if not endpoints.delete_endpoint(endpoint_id=webhook_id, context=AuditContext(actor=caller)):
        return problems.problem("not_found", 404, detail="No such webhook endpoint.")
    response = HttpResponse(status=204)
    response["Cache-Control"] = "no-store"
    return response
