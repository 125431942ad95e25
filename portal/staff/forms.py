"""Forms for the staff pages. Each names its fields explicitly; anything else posted is ignored."""

import re
from typing import Any
from uuid import UUID

from django import forms
from django.conf import settings

from portal.grants.keyset import CURSOR_MAX_LENGTH
from portal.grants.wording import STATUS_LABELS, WARNING_LABELS
from portal.models import ZohoGrant
from portal.staff.actions import MAX_BATCH
from portal.staff.grant_search import SORT_LABELS, SORTS, WARNING_ANY, WARNING_NONE, GrantQuery

REASON_MAX = 500
# C0 controls except tab/LF/CR, DEL and C1 (ANSI escapes start with ESC or CSI).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _dc_choices() -> list[tuple[str, str]]:
    return [("", "Any"), *((dc, dc.upper()) for dc in settings.ZOHO_DATA_CENTRES)]


class GrantSearchForm(forms.Form):
    """The grant list's query string; an invalid value is shown as an error, never a 500."""

    q = forms.CharField(
        required=False,
        max_length=254,
        label="Search",
        help_text="Owner or Zoho email (start of it), organization name or id, a grant id, "
        "or the app's external id (exact).",
    )
    status = forms.ChoiceField(
        required=False,
        choices=[("", "Any"), *((key, STATUS_LABELS[key]) for key in ZohoGrant.Status.values)],
    )
    dc = forms.ChoiceField(required=False, label="Data centre", choices=_dc_choices)
    warning = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any"),
            (WARNING_ANY, "With a warning"),
            (WARNING_NONE, "Without a warning"),
            *WARNING_LABELS.items(),
        ],
    )
    refreshed_after = forms.DateField(required=False, label="Refreshed on or after")
    refreshed_before = forms.DateField(required=False, label="Refreshed before")
    created_after = forms.DateField(required=False, label="Created on or after")
    created_before = forms.DateField(required=False, label="Created before")
    sort = forms.ChoiceField(required=False, choices=list(SORT_LABELS.items()))
    cursor = forms.CharField(required=False, max_length=CURSOR_MAX_LENGTH, widget=forms.HiddenInput)

    def clean_q(self) -> str:
        value: str = self.cleaned_data["q"]
        if _CONTROL.search(value):
            raise forms.ValidationError("The search may not contain control characters.")
        return value

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        for first, second in (
            ("refreshed_after", "refreshed_before"),
            ("created_after", "created_before"),
        ):
            if data.get(first) and data.get(second) and data[first] >= data[second]:
                self.add_error(second, "This date must come after the other one.")
        cursor = data.get("cursor")
        if cursor:
            values = SORTS[data.get("sort") or "-created"].decode(cursor)
            if values is None:
                self.add_error("cursor", "This page link is not valid; start from the first page.")
            data["cursor_values"] = values
        return data

    def query(self) -> GrantQuery:
        data = self.cleaned_data
        return GrantQuery(
            q=data["q"],
            status=data["status"],
            dc=data["dc"],
            warning=data["warning"],
            refreshed_after=data["refreshed_after"],
            refreshed_before=data["refreshed_before"],
            created_after=data["created_after"],
            created_before=data["created_before"],
            sort=data["sort"] or "-created",
            cursor=data.get("cursor_values"),
        )


class ReasonField(forms.CharField):
    """A reason for the audit log: at most 500 characters, one paragraph.

    Line breaks and tabs become spaces; other control characters (ANSI escapes) are refused.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", REASON_MAX)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 3}))
        super().__init__(**kwargs)

    def clean(self, value: Any) -> str:
        text: str = super().clean(value)
        if _CONTROL.search(text):
            raise forms.ValidationError("The reason may not contain control characters.")
        return " ".join(text.split())


class GrantIdsField(forms.Field):
    """One or more grant ids (``grant=<uuid>`` repeated), at most MAX_BATCH, duplicates dropped."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[UUID]:
        if not value:
            return []
        if not isinstance(value, list | tuple):
            raise forms.ValidationError("Select grants from the list.")
        try:
            ids = list(dict.fromkeys(UUID(str(item)) for item in value))
        except ValueError:
            raise forms.ValidationError("Some selected values are not grant ids.") from None
        if len(ids) > MAX_BATCH:
            raise forms.ValidationError(f"Select at most {MAX_BATCH} grants at a time.")
        return ids


class RevokeGrantsForm(forms.Form):
    """Staff revoke: the selected grants, a reason, and whether this is the confirmed post.

    The first post (from the list) needs no reason yet; the confirmed one does.
    """

    grant = GrantIdsField(error_messages={"required": "Select at least one grant to revoke."})
    reason = ReasonField(required=False, help_text="Sent to the owners and kept in the audit log.")
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("confirm") and not data.get("reason"):
            self.add_error("reason", "Give a reason: the owners and the audit log will see it.")
        return data


class UserSearchForm(forms.Form):
    q = forms.CharField(
        required=False, max_length=254, label="Email starts with, or external id (exact)"
    )
    cursor = forms.CharField(required=False, max_length=CURSOR_MAX_LENGTH, widget=forms.HiddenInput)

    def clean_q(self) -> str:
        value: str = self.cleaned_data["q"]
        if _CONTROL.search(value):
            raise forms.ValidationError("The search may not contain control characters.")
        return value.strip()


class ExternalIdForm(forms.Form):
    external_id = forms.CharField(
        required=False,
        max_length=200,
        strip=False,
        label="External id",
        help_text="The app's own id for this customer. Leave empty to remove it.",
    )


class UserActionForm(forms.Form):
    reason = ReasonField(required=True, help_text="Kept in the audit log.")


class ServiceKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses the key, e.g. desk-app production.")
    expires_in_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=3650,
        label="Expires after (days)",
        help_text="Leave empty for a key that does not expire.",
    )

    def clean_name(self) -> str:
        value = " ".join(self.cleaned_data["name"].split())
        if not value or _CONTROL.search(value):
            raise forms.ValidationError("Give the key a plain name.")
        return value


class CustomerImportForm(forms.Form):
    """An import file for a migration campaign (``portal.migration.imports``)."""

    campaign = forms.CharField(
        max_length=100,
        help_text="A new name starts a campaign; an existing one adds to it (safe to repeat).",
    )
    deadline = forms.DateField(
        required=False,
        help_text="YYYY-MM-DD: when the old authorizations stop working.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    file = forms.FileField(
        label="CSV file",
        help_text="Header: external_id,email,name,data_centre,desk_org_id,authtoken,refresh_token",
    )
    dry_run = forms.BooleanField(
        required=False, label="Dry run: only report what would happen", initial=True
    )

    def clean_campaign(self) -> str:
        name: str = self.cleaned_data["campaign"].strip()
        if not name or _CONTROL.search(name):
            raise forms.ValidationError("Give the campaign a plain name.")
        return name

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        limit = int(settings.MIGRATION_IMPORT_MAX_BYTES)
        if upload.size > limit:
            raise forms.ValidationError(f"The file is larger than {limit} bytes.")
        return upload


class CampaignCustomerFilterForm(forms.Form):
    """The filters of a campaign's customer list (and of its CSV export)."""

    stage = forms.ChoiceField(required=False, label="Stage", choices=[])
    dc = forms.ChoiceField(required=False, label="Data centre", choices=[])
    fields: dict[str, forms.ChoiceField]  # type: ignore[assignment]
    q = forms.CharField(required=False, max_length=254, label="Email or external id contains")
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, stages: list[tuple[str, str]], dcs: list[str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["stage"].choices = [("", "Any stage"), *stages]
        self.fields["dc"].choices = [("", "Any data centre"), *((dc, dc.upper()) for dc in dcs)]

    def clean_q(self) -> str:
        value: str = self.cleaned_data["q"]
        if _CONTROL.search(value):
            raise forms.ValidationError("The search may not contain control characters.")
        return value.strip()
