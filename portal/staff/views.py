"""The /staff/ landing: send staff to the first section they may open."""

import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect

from portal.staff.access import sections_for

logger = logging.getLogger("portal.staff")


def staff_home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not (user.is_authenticated and user.is_active and user.is_staff):
        raise Http404
    sections = sections_for(user)
    if not sections:
        logger.warning("Staff user %s holds no staff permission", user.pk)
        raise PermissionDenied
    return redirect(sections[0].url_name)
