"""Sign-up and profile; log-in, log-out and password pages come from Django's auth views."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST

from accounts import email_verification
from accounts.audit import AuditContext
from accounts.forms import ProfileForm, SignUpForm
from accounts.models import AuthenticatedHttpRequest
from accounts.profile import set_alert_emails


@login_not_required
@sensitive_post_parameters("password1", "password2")
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("portal:connections")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = form.save()
            email_verification.request_verification(user=user)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(
            request, "Welcome! Your account is ready. Confirm your email with the link we sent."
        )
        return redirect("portal:connections")
    return render(request, "accounts/signup.html", {"form": form})


def profile(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    data = request.POST if request.method == "POST" else None  # an unticked box posts nothing
    form = ProfileForm(data, initial={"has_alert_emails": user.has_alert_emails})
    if request.method == "POST" and form.is_valid():
        set_alert_emails(
            user=user,
            enabled=form.cleaned_data["has_alert_emails"],
            context=AuditContext.from_request(request),
        )
        messages.success(request, "Your profile was saved.")
        return redirect("accounts:profile")
    return render(request, "accounts/profile.html", {"form": form})


@login_not_required
@require_GET
@never_cache
def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    """The link from the confirmation mail (confirming twice is harmless)."""
    user = email_verification.verify_email(token=token, context=AuditContext.from_request(request))
    if user is None:
        return render(request, "accounts/verify_email_failed.html", status=410)
    messages.success(request, f"Thank you: {user.email} is confirmed.")
    return redirect("portal:connections" if request.user.is_authenticated else "accounts:login")


@require_POST
def verify_email_resend(request: AuthenticatedHttpRequest) -> HttpResponse:
    if request.user.email_verified_at is None:
        with transaction.atomic():
            email_verification.request_verification(user=request.user)
        messages.info(request, f"We sent a new confirmation link to {request.user.email}.")
    return redirect("portal:connections")
