"""Links of a keyset-paginated staff list: the next page and back to the first."""

from django.http import HttpRequest


def page_links(request: HttpRequest, next_cursor: str | None) -> dict[str, str]:
    """``next_url`` (empty on the last page) and ``first_url``, keeping the other parameters."""
    first = request.GET.copy()
    first.pop("cursor", None)
    next_url = ""
    if next_cursor:
        following = request.GET.copy()
        following["cursor"] = next_cursor
        next_url = f"?{following.urlencode()}"
    return {"next_url": next_url, "first_url": f"?{first.urlencode()}"}
