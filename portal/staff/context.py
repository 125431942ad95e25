"""Template context: the staff sections the signed-in user may open (for the navigation)."""

from typing import Any

from django.http import HttpRequest

from portal.staff.access import sections_for


def staff_sections(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None:
        return {"staff_sections": []}
    return {"staff_sections": sections_for(user)}
