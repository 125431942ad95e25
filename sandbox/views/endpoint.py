"""What every Zoho-facing sandbox view shares: the guard, the record, fault handling."""

import base64
import binascii
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any
from urllib.parse import unquote

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from sandbox import faults, records
from sandbox.datacentres import is_data_centre
from sandbox.fault_responses import INJECTED_ERRORS, blocking_response, dripped
from sandbox.guard import sandbox_allowed
from sandbox.models import Fault
from sandbox.records import SandboxRequest
from sandbox.seed import ensure_seeded

View = Callable[..., HttpResponseBase]


def zoho_endpoint(endpoint: str, *, csrf_protected: bool = False) -> Callable[[View], View]:
    """Make a view a recorded, fault-aware Zoho endpoint at ``/sandbox/<dc>/...``.

    Server-to-server endpoints are CSRF-exempt; the consent page keeps Django's CSRF check.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(
            request: SandboxRequest, dc: str, *args: Any, **kwargs: Any
        ) -> HttpResponseBase:
            if not sandbox_allowed():
                raise Http404("The sandbox is off.")
            draft = records.Draft(dc=dc, endpoint=endpoint, method=request.method or "")
            request.sandbox = draft
            if not is_data_centre(dc):
                records.save(draft, 404)
                return JsonResponse({"error": "unknown data centre"}, status=404)
            ensure_seeded()
            response: HttpResponseBase | None = None
            try:
                response = view(request, dc, *args, **kwargs)
            finally:
                status: int | None = response.status_code if response is not None else 500
                if getattr(request, "sandbox_dropped", False):
                    status = None
                records.save(draft, status)
            drip: Fault | None = getattr(request, "sandbox_drip", None)
            if drip is not None and isinstance(response, HttpResponse):  # not streaming
                response = dripped(
                    response,
                    interval=float(drip.params.get("interval", 1.0)),
                    chunk=int(drip.params.get("chunk", 1)),
                )
            return response

        wrapped = login_not_required(wrapped)
        return wrapped if csrf_protected else csrf_exempt(wrapped)

    return decorator


def faults_before(request: SandboxRequest, *, zuid: str | None = None) -> HttpResponseBase | None:
    """Apply the delay, drip and blocking faults matching this request.

    Returns the answer to send instead of the endpoint's, or None to go on normally.
    """
    draft = request.sandbox
    firing = faults.take_before(dc=draft.dc, endpoint=draft.endpoint, zuid=zuid)
    draft.faults.extend(firing.names)
    if firing.delay:
        time.sleep(firing.delay)
    if firing.drip is not None:
        request.sandbox_drip = firing.drip
    if firing.block is None:
        return None
    kind = firing.block.kind
    if kind in INJECTED_ERRORS:
        draft.error_code = str(firing.block.params.get("error", INJECTED_ERRORS[kind]))
    elif kind == "rate_limit":
        draft.error_code = "Access Denied"
    elif kind == "invalid_oauth":
        draft.error_code = "INVALID_OAUTH"
    return blocking_response(request, firing.block, desk=draft.endpoint.startswith("desk_"))


def modifiers(request: SandboxRequest, *, zuid: str | None) -> dict[str, Fault]:
    """Use up the modifying faults for this request (by kind) and note them in the record."""
    draft = request.sandbox
    taken = faults.take_modifiers(dc=draft.dc, endpoint=draft.endpoint, zuid=zuid)
    draft.faults.extend(taken)
    return taken


@contextmanager
def modifiers_applied(request: SandboxRequest, *, zuid: str | None) -> Iterator[dict[str, Fault]]:
    """The modifying faults for this request, handed back if the block raises (a refused
    request did not use them)."""
    draft = request.sandbox
    taken = faults.take_modifiers(dc=draft.dc, endpoint=draft.endpoint, zuid=zuid)
    try:
        yield taken
    except Exception:
        faults.give_back(taken)
        raise
    draft.faults.extend(taken)


def oauth_params(request: HttpRequest) -> dict[str, str]:
    """Parameters from the query string and the form body (the body wins), as Zoho reads.
    A value with a NUL byte counts as absent (it could never match anything stored)."""
    merged = {**request.GET.dict(), **request.POST.dict()}
    return {name: value for name, value in merged.items() if "\x00" not in value}


def client_credentials(request: HttpRequest, params: dict[str, str]) -> tuple[str, str]:
    """Client id and secret from the parameters, else from an HTTP Basic header."""
    client_id, secret = params.get("client_id", ""), params.get("client_secret", "")
    header = request.headers.get("Authorization", "")
    if header[:6].lower() == "basic " and not (client_id and secret):
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return client_id, secret
        basic_id, _, basic_secret = decoded.partition(":")
        return client_id or unquote(basic_id), secret or unquote(basic_secret)
    return client_id, secret


def bearer_token(request: HttpRequest, *, schemes: tuple[str, ...]) -> str:
    """The token in ``Authorization: <scheme> <token>`` for one of ``schemes`` (any case)."""
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    return value.strip() if scheme.lower() in schemes else ""


def no_store(response: HttpResponse) -> HttpResponseBase:
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response
