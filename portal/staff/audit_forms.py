"""The audit log's filters: parsed and bounded here, so no input reaches SQL unchecked."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django import forms

from accounts.audit import searchable_words, user_id_for
from accounts.models import AuditEvent

MAX_ID = 2**63 - 1  # PostgreSQL bigint
USER_HELP = "An email address or a user id."


class AuditFilterForm(forms.Form):
    """GET parameters of the audit page and its exports; all optional."""

    actor = forms.CharField(required=False, max_length=254, help_text=USER_HELP)
    action = forms.ChoiceField(
        required=False, choices=[("", "Any action"), *AuditEvent.Action.choices]
    )
    grant = forms.UUIDField(required=False, label="Grant id")
    owner = forms.CharField(required=False, max_length=254, help_text=USER_HELP)
    outcome = forms.ChoiceField(
        required=False, choices=[("", "Any outcome"), *AuditEvent.Outcome.choices]
    )
    date_from = forms.DateField(
        required=False, label="From (UTC)", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To (UTC, inclusive)", widget=forms.DateInput(attrs={"type": "date"})
    )
    q = forms.CharField(
        required=False, max_length=200, label="Reason contains", help_text="Words or their start."
    )
    before = forms.IntegerField(
        required=False, min_value=0, max_value=MAX_ID, widget=forms.HiddenInput
    )
    after = forms.IntegerField(
        required=False, min_value=0, max_value=MAX_ID, widget=forms.HiddenInput
    )

    FILTERS = ("actor", "action", "grant", "owner", "outcome", "date_from", "date_to", "q")

    def clean_actor(self) -> int | None:
        return _user(self.cleaned_data["actor"])

    def clean_owner(self) -> int | None:
        return _user(self.cleaned_data["owner"])

    def clean_q(self) -> str:
        text: str = self.cleaned_data["q"].strip()
        if text and not searchable_words(text):
            raise forms.ValidationError("Enter at least one word (letters or digits).")
        return text

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        elif end and end >= date.max:
            self.add_error("date_to", "Enter an earlier date.")
        if data.get("before") is not None and data.get("after") is not None:
            raise forms.ValidationError("Ask for older or newer events, not both.")
        return data

    def filters(self) -> dict[str, Any]:
        """Keyword arguments for ``accounts.audit.list_events``."""
        data = self.cleaned_data
        return {
            "actor_id": data["actor"],
            "action": data["action"],
            "grant_id": data["grant"],
            "owner_id": data["owner"],
            "outcome": data["outcome"],
            "since": _start_of(data["date_from"]),
            "until": _start_of(data["date_to"] + timedelta(days=1)) if data["date_to"] else None,
            "reason_words": data["q"],
        }

    def described(self) -> dict[str, str]:
        """The filters in use, as plain text (for the export's own audit event)."""
        return {
            name: str(self.cleaned_data[name])
            for name in self.FILTERS
            if self.cleaned_data.get(name) not in (None, "")
        }

    def query(self) -> dict[str, str]:
        """The filters as GET parameters (for export and paging links), as the user typed them."""
        return {name: str(self.data[name]) for name in self.FILTERS if self.data.get(name)}


def _user(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if text.isdigit():
        if len(text) > 18:
            raise forms.ValidationError("No user has this id.")
        return int(text)
    if "@" not in text:
        raise forms.ValidationError("Enter an email address or a numeric user id.")
    user_id = user_id_for(text)
    if user_id is None:
        raise forms.ValidationError("No portal user has this email address.")
    return user_id


def _start_of(day: date | None) -> datetime | None:
    return datetime.combine(day, time.min, tzinfo=UTC) if day else None
