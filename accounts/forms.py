"""Sign-up form: email plus a password checked by Django's validators."""

from django import forms
from django.contrib.auth.forms import BaseUserCreationForm

from accounts.models import User


class SignUpForm(BaseUserCreationForm):
    """Creates a portal user; the email must be new in any letter case."""

    class Meta:
        model = User
        fields = ("email",)

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"]).strip()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(
                "An account with this email already exists. Log in or reset your password."
            )
        return email


class ProfileForm(forms.Form):
    has_alert_emails = forms.BooleanField(
        label="Email me when a connection needs reconnecting",
        required=False,
        help_text="Sent once when Zoho stops accepting a connection, with a Reconnect link.",
    )
