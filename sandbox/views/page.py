"""``/sandbox/``: the HTML control page (an ordinary CSRF-protected page, no JavaScript)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from sandbox import config, fault_kinds, faults, records, state
from sandbox.authtokens import authtokens_as_dicts
from sandbox.clients import client_as_dict, ensure_portal_client
from sandbox.datacentres import accounts_server, api_domain, cluster, data_centre_codes, desk_base
from sandbox.guard import sandbox_allowed
from sandbox.models import Client, Fault
from sandbox.seed import ensure_seeded

BOOLEAN_SETTINGS = [name for name in config.SETTING_FIELDS if name not in config.LIMITS]


@login_not_required
@require_http_methods(["GET", "POST"])
def control_page(request: HttpRequest) -> HttpResponse:
    """Show the sandbox's state; POST runs one action and comes back here."""
    if not sandbox_allowed():
        raise Http404("The sandbox is off.")
    ensure_seeded()
    ensure_portal_client()
    if request.method == "POST":
        _run_action(request)
        return HttpResponseRedirect(reverse("sandbox:control_page"))
    grants = state.grants_as_dicts()
    newest = records.find_requests({"limit": "100"})
    return render(
        request,
        "sandbox/control.html",
        {
            "dcs": [
                {
                    "code": dc,
                    "cluster": cluster(dc),
                    "accounts": accounts_server(request, dc),
                    "desk": f"{desk_base(request, dc)}/api/v1",
                    "api_domain": api_domain(dc),
                }
                for dc in data_centre_codes()
            ],
            "clients": [client_as_dict(c) for c in Client.objects.order_by("id")],
            "users": state.users_as_dicts(),
            "authtokens": authtokens_as_dicts(),
            "revocable": sorted({(g["zuid"], g["client_id"]) for g in grants if g["active"]}),
            "grants": grants[:100],
            "faults": [faults.fault_as_dict(f) for f in Fault.objects.order_by("id")],
            "kinds": [
                (name, kind.help, ", ".join(kind.params))
                for name, kind in fault_kinds.KINDS.items()
            ],
            "endpoints": fault_kinds.ENDPOINTS,
            "requests": [records.request_as_dict(r) for r in reversed(list(newest))],
            "settings": config.settings_as_dict(config.current_settings()),
            "boolean_settings": BOOLEAN_SETTINGS,
        },
    )


def _run_action(request: HttpRequest) -> None:
    action = request.POST.get("action", "")
    data = request.POST.dict()
    try:
        if action == "reset":
            state.reset_sandbox()
            messages.success(request, "Sandbox reset to its seeded state.")
        elif action == "settings":
            values = {name: data.get(name, "") for name in config.LIMITS}
            values |= {name: "on" if name in data else "off" for name in BOOLEAN_SETTINGS}
            config.update_settings(**config.clean_settings(values))
            messages.success(request, "Settings saved.")
        elif action == "add_fault":
            fault = faults.add_fault({k: v for k, v in data.items() if v != ""})
            messages.success(request, f"Fault #{fault.pk} ({fault.kind}) added.")
        elif action == "clear_fault" and data.get("fault_id", "").isdigit():
            faults.clear_faults(int(data["fault_id"]))
            messages.success(request, "Fault cleared.")
        elif action == "clear_faults":
            messages.success(request, f"{faults.clear_faults()} fault(s) cleared.")
        elif action == "revoke_user":
            count = state.revoke_for_user(
                zuid=data.get("zuid", ""), client_id=data.get("client_id")
            )
            messages.success(request, f"Access revoked: {count} refresh token(s) died.")
        else:
            messages.error(request, "Unknown action.")
    except fault_kinds.FaultInvalid as problem:
        details = "; ".join(f"{field}: {text}" for field, text in problem.errors.items())
        messages.error(request, f"Fault not added: {details}")
    except (ValueError, state.NotFound) as problem:
        messages.error(request, f"Not done: {problem}")
