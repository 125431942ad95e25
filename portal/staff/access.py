"""Who may open which staff page.

Every staff view is wrapped in :func:`staff_permission_required` with exactly one permission.
Anonymous visitors are sent to the login page (LoginRequiredMiddleware), signed-in people who
are not staff get a 404 (the staff pages do not exist for them), staff without the permission
get a 403. Each refusal is logged. Nothing about access is decided in templates.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase

from accounts.models import User
from portal import models

logger = logging.getLogger("portal.staff")

# The permissions each staff view asks for, named where their models declare them.
VIEW_ALL_GRANTS = models.VIEW_ALL_GRANTS
REVOKE_ANY_GRANT = models.REVOKE_ANY_GRANT
MANAGE_SERVICE_KEYS = models.MANAGE_SERVICE_KEYS
MANAGE_WEBHOOKS = models.MANAGE_WEBHOOKS
RUN_MIGRATIONS = models.RUN_MIGRATIONS
VIEW_AUDIT_LOG = "accounts.view_audit_log"
MANAGE_USERS = "accounts.manage_users"

View = Callable[..., HttpResponseBase]


def staff_permission_required(permission: str) -> Callable[[View], View]:
    """Let through active staff who hold ``permission``; 404 for others, 403 for staff."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            user = request.user
            if not (user.is_authenticated and user.is_active and user.is_staff):
                logger.warning("Staff page refused to a non-staff user: %s", request.path)
                raise Http404
            if not user.has_perm(permission):
                logger.warning(
                    "Staff page refused: user %s lacks %s for %s", user.pk, permission, request.path
                )
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.staff_permission = permission  # type: ignore[attr-defined]
        return wrapped

    return decorate


@dataclass(frozen=True)
class Section:
    label: str
    url_name: str
    permission: str


# The staff navigation, in order. Each area adds its entry when its pages exist.
SECTIONS: list[Section] = [
    Section("Overview", "staff:overview", VIEW_ALL_GRANTS),
    Section("Grants", "staff:grants", VIEW_ALL_GRANTS),
    Section("Users", "staff:users", MANAGE_USERS),
    Section("Service keys", "staff:keys", MANAGE_SERVICE_KEYS),
    Section("Webhooks", "staff:webhooks", MANAGE_WEBHOOKS),
    Section("Upkeep", "staff:upkeep", VIEW_ALL_GRANTS),
    Section("Customer import", "staff:customer_import", RUN_MIGRATIONS),
    Section("Campaigns", "staff:campaigns", RUN_MIGRATIONS),
    Section("Audit log", "staff:audit", VIEW_AUDIT_LOG),
]


def sections_for(user: User | AnonymousUser) -> list[Section]:
    """The sections ``user`` may open (used for the navigation and the /staff/ landing)."""
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return []
    return [section for section in SECTIONS if user.has_perm(section.permission)]
