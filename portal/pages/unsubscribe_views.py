"""The unsubscribe link of a migration campaign's invitations (``/unsubscribe/<token>/``).

Works without signing in. GET only asks (mail scanners fetch links); the POST, from that page
or straight from a mail client (RFC 8058 one-click), records the opt-out. The POST is exempt
from CSRF checks because a mail client cannot hold a token: the link's signature is what
authorizes it, and all it can do is stop mail to the customer it was signed for.
"""

from datetime import timedelta

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from accounts.audit import AuditContext
from accounts.ratelimit import limit_requests
from portal.migration import opt_out


@login_not_required
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
@limit_requests(("unsubscribe", 60, timedelta(minutes=1)), methods=("GET", "POST"))
def migration_unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    customer = opt_out.customer_for(token)
    if customer is None:
        raise Http404
    done = request.method == "POST"
    if done:
        opt_out.opt_out(customer, context=AuditContext.from_request(request))
    context = {"done": done, "deadline": customer.campaign.deadline}
    response = render(request, "portal/migration_unsubscribe.html", context)
    response["Referrer-Policy"] = "no-referrer"
    return response
