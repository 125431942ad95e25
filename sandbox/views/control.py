"""The JSON control API under ``/sandbox/control/``, for tests and benchmarks.

POST and DELETE need ``Content-Type: application/json`` (an empty object is fine), so a
cross-site HTML form cannot drive it.
"""

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from sandbox import config, fault_kinds, faults, records, state
from sandbox.authtokens import authtokens_as_dicts
from sandbox.clients import (
    ClientManagedBySettings,
    client_as_dict,
    ensure_portal_client,
    register_client,
)
from sandbox.datacentres import is_data_centre
from sandbox.guard import sandbox_allowed
from sandbox.models import Client, Fault
from sandbox.seed import ensure_seeded

View = Callable[..., HttpResponse]


class BadRequest(Exception):
    def __init__(self, detail: Any) -> None:
        super().__init__(detail)
        self.detail = detail


def control_endpoint(*methods: str) -> Callable[[View], View]:
    """A JSON control view: guarded, seeded, JSON in and out, allowed ``methods`` only."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not sandbox_allowed():
                raise Http404("The sandbox is off.")
            if request.method not in methods:
                return JsonResponse({"error": "method_not_allowed"}, status=405)
            ensure_seeded()
            try:
                data = _json_body(request)
                return view(request, data, *args, **kwargs)
            except BadRequest as problem:
                return JsonResponse({"error": "bad_request", "detail": problem.detail}, status=400)

        return login_not_required(csrf_exempt(wrapped))

    return decorator


def _json_body(request: HttpRequest) -> dict[str, Any]:
    if request.method == "GET":
        return {}
    if request.content_type != "application/json":
        raise BadRequest("Content-Type must be application/json")
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        raise BadRequest("body is not JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    return data


@control_endpoint("POST")
def reset(request: HttpRequest, data: dict[str, Any]) -> HttpResponse:
    """Clear faults, records, codes, grants and registered clients; re-seed; default settings."""
    state.reset_sandbox()
    return JsonResponse({"status": "ok"})


@control_endpoint("GET", "POST", "DELETE")
def fault_list(request: HttpRequest, data: dict[str, Any]) -> HttpResponse:
    """GET lists fault switches, POST adds one, DELETE clears them all."""
    if request.method == "POST":
        try:
            fault = faults.add_fault(data)
        except fault_kinds.FaultInvalid as problem:
            raise BadRequest(problem.errors) from None
        return JsonResponse(faults.fault_as_dict(fault), status=201)
    if request.method == "DELETE":
        return JsonResponse({"cleared": faults.clear_faults()})
    return JsonResponse({"faults": [faults.fault_as_dict(f) for f in Fault.objects.order_by("id")]})


@control_endpoint("POST")
def fault_clear_all(request: HttpRequest, data: dict[str, Any]) -> HttpResponse:
    return JsonResponse({"cleared": faults.clear_faults()})


@control_endpoint("POST", "DELETE")
def fault_clear(request: HttpRequest, data: dict[str, Any], fault_id: int) -> HttpResponse:
    return JsonResponse({"cleared": faults.clear_faults(fault_id)})


@control_endpoint("GET")
def request_list(request: HttpRequest, data: dict[str, Any]) -> HttpResponse:
    """The request record, oldest first; filters: dc, endpoint, zuid, client_id, since, after,
    limit."""
    filters = {name: request.GET.get(name, "") for name in records.FILTERS}
    rows = records.find_requests(filters)
    return JsonResponse({"requests": [records.request_as_dict(row) for row in rows]})


@control_endpoint("GET", "POST")
def client_list(request: HttpRequest, data: dict[str, Any]) -> HttpResponse:
    """GET lists registered clients (no secrets); POST registers one."""
    if request.method == "POST":
        try:
            client = register_client(**_client_fields(data))
        except ClientManagedBySettings:
            raise BadRequest("the portal's client follows settings (ZOHO_CLIENT_*)") from None
        return JsonResponse(client_as_dict(client), status=201)
    ensure_portal_client()
    return JsonResponse({"clients": [client_as_dict(c) for c in Client.objects.order_by("id")]})


def _client_fields(data: dict[str, Any]) -> dict[str, Any]:
    errors = {}
    client_id, secret = data.get("client_id"), data.get("client_secret")
    uris = data.get("redirect_uris")
    dc_secrets = data.get("dc_secrets") or {}
    dcs = data.get("data_centres") or data.get("dcs")
    if not isinstance(client_id, str) or not client_id or len(client_id) > 200:
        errors["client_id"] = "required string"
    if not isinstance(secret, str) or not secret:
        errors["client_secret"] = "required string"
    if not isinstance(uris, list) or not uris or not all(_http_url(u) for u in uris):
        errors["redirect_uris"] = "a non-empty list of http(s) URLs"
    if not isinstance(dc_secrets, dict) or not all(is_data_centre(dc) for dc in dc_secrets):
        errors["dc_secrets"] = "an object of data centre → secret"
    if dcs is not None and (not isinstance(dcs, list) or not all(is_data_centre(d) for d in dcs)):
        errors["data_centres"] = "a list of data centre codes"
    if "\\u0000" in json.dumps(data):
        errors["body"] = "NUL characters are not allowed"
    if errors:
        raise BadRequest(errors)
    return {
        "client_id": client_id,
        "client_secret": secret,
        "redirect_uris": uris,
        "dc_secrets": {dc: str(s) for dc, s in dc_secrets.items()},
        "data_centres": dcs,
        "name": str(data.get("name") or ""),
    }


def _http_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


@control_endpoint("GET")
def user_list(request: HttpRequest, data: dict[str, Any]) -> HttpResponse:
    return JsonResponse({"users": state.users_as_dicts()})


@control_endpoint("GET")
def authtoken_list(request: HttpRequest, data: dict[str, Any]) -> HttpResponse:
    """Each user's legacy authtoken (for ``authtooauth``), its DC and the orgs it works for."""
    return JsonResponse({"authtokens": authtokens_as_dicts()})


@control_endpoint("POST")
def user_revoke(request: HttpRequest, data: dict[str, Any], zuid: str) -> HttpResponse:
    """The user revokes the client in Zoho (Connected Apps → Revoke Access)."""
    client_id = data.get("client_id")
    if client_id is not None and not isinstance(client_id, str):
        raise BadRequest({"client_id": "a string"})
    try:
        count = state.revoke_for_user(zuid=zuid, client_id=client_id)
    except state.NotFound as missing:
        return JsonResponse({"error": "not_found", "detail": str(missing)}, status=404)
    return JsonResponse({"revoked": count})


@control_endpoint("GET")
def grant_list(request: HttpRequest, data: dict[str, Any]) -> HttpResponse:
    """Issued refresh tokens (masked), filterable by zuid and client_id."""
    grants = state.grants_as_dicts(
        zuid=request.GET.get("zuid", ""), client_id=request.GET.get("client_id", "")
    )
    return JsonResponse({"grants": grants})


@control_endpoint("GET", "POST")
def settings_view(request: HttpRequest, data: dict[str, Any]) -> HttpResponse:
    """GET shows the switches; POST changes the ones given."""
    if request.method == "POST":
        try:
            values = config.clean_settings(data)
        except ValueError as problem:
            raise BadRequest({"invalid": str(problem)}) from None
        return JsonResponse(config.settings_as_dict(config.update_settings(**values)))
    return JsonResponse(config.settings_as_dict(config.current_settings()))
