"""Forms that parse every input the connection pages accept."""

from django import forms
from django.http import QueryDict

from portal import zoho
from portal.grants.connect import CallbackParams


class ConnectForm(forms.Form):
    region = forms.ChoiceField(
        choices=list(zoho.REGIONS.items()),
        initial="global",
        label="Where does your Zoho account live?",
    )


class CallbackForm(forms.Form):
    """Zoho's redirect back to us; bounds every value before anything else looks at it."""

    state = forms.CharField(required=False, max_length=200)
    code = forms.CharField(required=False, max_length=2000)
    location = forms.CharField(required=False, max_length=16)
    accounts_server = forms.CharField(required=False, max_length=200)
    error = forms.CharField(required=False, max_length=100)

    @classmethod
    def from_query(cls, query: QueryDict) -> "CallbackForm":
        data = {name: query.get(name, "") for name in ("state", "code", "location", "error")}
        data["accounts_server"] = query.get("accounts-server", "")
        return cls(data)

    def params(self) -> CallbackParams:
        return CallbackParams(**self.cleaned_data)
