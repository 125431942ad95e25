"""Grant listings for the API: filters, keyset pagination, and never any token."""

from typing import Any

from django import forms
from django.http import QueryDict

from portal.api import feed
from portal.grants.keyset import Seek
from portal.grants.representation import GRANT_FIELDS, grant_payload
from portal.models import ZohoGrant

PAGE_SIZE = 50
# Newest first; served by the (created_at, id) index the staff list's "-created" order uses.
API_SEEK = Seek(
    "api-grants",
    ('"portal_zohogrant"."created_at"', '"portal_zohogrant"."id"'),
    ("datetime", "uuid"),
    True,
)


class GrantFilterForm(forms.Form):
    """The list's filters; any value that is not valid (NUL bytes included) is refused."""

    email = forms.CharField(required=False, max_length=254)
    external_id = forms.CharField(required=False, max_length=200, strip=False)
    user_id = forms.RegexField(required=False, regex=r"^[0-9]{1,18}$")
    org_id = forms.CharField(required=False, max_length=32)
    status = forms.ChoiceField(required=False, choices=[("", ""), *ZohoGrant.Status.choices])
    cursor = forms.CharField(required=False, max_length=200)
    updated_since = feed.TimestampField(required=False)  # the change feed (portal/api/feed.py)


def grant_list_payload(query: QueryDict) -> dict[str, Any] | None:
    """One page of grants matching the filters, or None when a filter value is invalid."""
    form = GrantFilterForm(query)
    if not form.is_valid():
        return None
    wanted = form.cleaned_data
    grants = ZohoGrant.objects.all()
    if wanted["external_id"]:
        grants = grants.filter(user__external_id=wanted["external_id"])
    if wanted["email"]:
        # Verified emails only: anybody can sign up with an address they do not own.
        grants = grants.filter(
            user__email__iexact=wanted["email"], user__email_verified_at__isnull=False
        )
    if wanted["user_id"]:
        grants = grants.filter(user_id=int(wanted["user_id"]))
    if wanted["org_id"]:
        grants = grants.filter(organizations__contains=[{"id": wanted["org_id"]}])
    if wanted["status"]:
        grants = grants.filter(status=wanted["status"])
    if wanted["updated_since"]:
        since, cursor = wanted["updated_since"], wanted["cursor"]
        return feed.change_page(
            grants, since=since, cursor=cursor, fields=GRANT_FIELDS, show=grant_payload
        )
    if wanted["cursor"]:
        position = API_SEEK.decode(wanted["cursor"])
        if position is None:
            return None
        grants = grants.filter(API_SEEK.after(position))
    rows = list(grants.order_by("-created_at", "-id").values(*GRANT_FIELDS)[: PAGE_SIZE + 1])
    page = rows[:PAGE_SIZE]
    after = None
    if len(rows) > PAGE_SIZE:
        after = API_SEEK.encode([page[-1]["created_at"], page[-1]["id"]])
    return {"grants": [grant_payload(row) for row in page], "next_cursor": after}
