from datetime import timedelta

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from accounts import views
from accounts.login_throttle import throttle_login
from accounts.password_reset import PasswordResetForm
from accounts.ratelimit import limit_requests

# Brute force: failed log-ins per account and per client address (site and admin login);
# sign-ups and resets per client address. All shared by every process through PostgreSQL.
LOGIN_LIMIT = throttle_login
SIGNUP_LIMIT = limit_requests(("signup", 20, timedelta(minutes=5)))
RESET_LIMIT = limit_requests(("password-reset", 10, timedelta(minutes=15)))
RESEND_LIMIT = limit_requests(("verify-email-resend", 10, timedelta(minutes=15)))
VERIFY_LIMIT = limit_requests(("verify-email", 60, timedelta(minutes=15)), methods=("GET",))

app_name = "accounts"

urlpatterns = [
    path("signup/", SIGNUP_LIMIT(views.signup), name="signup"),
    path("profile/", views.profile, name="profile"),
    path(
        "verify-email/resend/",
        RESEND_LIMIT(views.verify_email_resend),
        name="verify_email_resend",
    ),
    path("verify-email/<str:token>/", VERIFY_LIMIT(views.verify_email), name="verify_email"),
    path(
        "login/",
        LOGIN_LIMIT(
            auth_views.LoginView.as_view(
                template_name="accounts/login.html", redirect_authenticated_user=True
            )
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password/change/",
        auth_views.PasswordChangeView.as_view(
            template_name="accounts/password_change.html",
            success_url=reverse_lazy("accounts:password_change_done"),
        ),
        name="password_change",
    ),
    path(
        "password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(
            template_name="accounts/password_change_done.html"
        ),
        name="password_change_done",
    ),
    path(
        "password/reset/",
        RESET_LIMIT(
            auth_views.PasswordResetView.as_view(
                template_name="accounts/password_reset.html",
                form_class=PasswordResetForm,  # the mail goes out from a job
                success_url=reverse_lazy("accounts:password_reset_done"),
            )
        ),
        name="password_reset",
    ),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="accounts/password_reset_confirm.html",
            success_url=reverse_lazy("accounts:password_reset_complete"),
        ),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="accounts/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
]
