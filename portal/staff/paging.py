"""Links of the paged staff lists: next, previous and first pages, and column sorts.

Every link is a query string (``?...``) for the same page that keeps the other parameters
(filters, sort) as they came and changes only its own: a cursor, or a sort that starts
again from the first page.
"""

from collections.abc import Mapping

from django.http import HttpRequest, QueryDict


def query_link(params: QueryDict | Mapping[str, str], **changes: object) -> str:
    """``?params`` with each of ``changes`` set, or removed where its value is None.

    A parameter already present keeps its place; a new one comes last.
    """
    if isinstance(params, QueryDict):
        query = params.copy()
    else:
        query = QueryDict(mutable=True)
        for name, text in params.items():
            query[name] = text
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = str(value)
    return f"?{query.urlencode()}"


def cursor_link(params: QueryDict | Mapping[str, str], *, name: str, cursor: object) -> str:
    """The link to the page at ``cursor`` (passed as ``name``); empty when there is none."""
    return "" if cursor is None or cursor == "" else query_link(params, **{name: cursor})


def page_links(request: HttpRequest, next_cursor: str | None) -> dict[str, str]:
    """``next_url`` (empty on the last page) and ``first_url``, keeping the other parameters."""
    return {
        "next_url": cursor_link(request.GET, name="cursor", cursor=next_cursor),
        "first_url": query_link(request.GET, cursor=None),
    }


def sort_links(request: HttpRequest, sorts: Mapping[str, str]) -> dict[str, str]:
    """For each column, the link sorting by its ``sorts`` order, from the first page."""
    return {
        column: query_link(request.GET, cursor=None, sort=sort) for column, sort in sorts.items()
    }
