"""Content-Security-Policy adjustments computed per request."""

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.csp import CSP

from portal import zoho


def allow_zoho_form_targets(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Let forms on this page lead to Zoho's accounts servers.

    Browsers apply ``form-action`` to the redirects that follow a form submission, and the
    connect form's answer is a redirect to Zoho (which may redirect on to the user's DC).
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        origins = sorted({_origin(dc.accounts_url) for dc in zoho.data_centres().values()} - {""})
        policy = dict(settings.SECURE_CSP)
        policy["form-action"] = [CSP.SELF, *origins]
        # What Django's csp_override decorator sets and its CSP middleware reads; private, so
        # django-stubs leaves it out of HttpResponse.
        response._csp_config = policy  # type: ignore[attr-defined]
        return response

    return wrapped


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
