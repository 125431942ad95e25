"""Sign-up and profile; log-in, log-out and password pages come from Django's auth views."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters

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
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, "Welcome! Your account is ready.")
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
