from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

from accounts.urls import LOGIN_LIMIT
from portal.api import views as api_views
from portal.observe.views import metrics_view
from portal.pages import connect_link_views, errors, grant_views, unsubscribe_views, views

app_name = "portal"

portal_patterns = [
    path("", views.landing, name="landing"),
    path("connections/", views.connections, name="connections"),
    path("connections/connect/", views.connect_start, name="connect"),
    path("connections/callback/", views.callback, name="callback"),
    path("connections/failed/", views.connect_failed, name="connect_failed"),
    path("connections/<uuid:grant_id>/", grant_views.grant_detail, name="grant_detail"),
    path("connections/<uuid:grant_id>/test/", grant_views.grant_test, name="grant_test"),
    path("connections/<uuid:grant_id>/refresh/", grant_views.grant_refresh, name="grant_refresh"),
    path(
        "connections/<uuid:grant_id>/reconnect/",
        grant_views.grant_reconnect,
        name="grant_reconnect",
    ),
    path("connections/<uuid:grant_id>/revoke/", grant_views.grant_revoke, name="grant_revoke"),
    path("connections/<uuid:grant_id>/hide/", grant_views.grant_hide, name="grant_hide"),
    path("connect/s/<str:secret>/", connect_link_views.connect_link, name="connect_link"),
    path("connect/cancel/", connect_link_views.connect_link_cancel, name="connect_link_cancel"),
    path(
        "unsubscribe/<str:token>/",
        unsubscribe_views.migration_unsubscribe,
        name="migration_unsubscribe",
    ),
    path("healthz", views.healthz, name="healthz"),
]

urlpatterns = [
    # First: the token API's hot path is resolved on every call, and the patterns before it
    # were tried (and failed) each time; no other prefix overlaps "api/".
    path("api/v1/", include("portal.api.urls")),
    path("", include((portal_patterns, "portal"))),
    path("accounts/", include("accounts.urls")),
    path("staff/", include("portal.staff.urls")),
    path("metrics", metrics_view, name="metrics"),
    path("admin/login/", LOGIN_LIMIT(admin.site.login)),
    path("admin/", admin.site.urls),
    # Browsers ask for /favicon.ico on pages that name no icon (the sandbox's, the admin's).
    # The hashed name is looked up per request: before collectstatic there is no manifest yet.
    path(
        "favicon.ico",
        login_not_required(
            RedirectView.as_view(url=lazy(static, str)("favicon.svg"), permanent=True)
        ),
    ),
]

if settings.SANDBOX_ENABLED:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))


def server_error(request: HttpRequest) -> HttpResponse:
    """Errors no view handled: a problem document for the API, a page for people."""
    if request.path_info.startswith("/api/"):
        return api_views.server_error(request)
    return errors.server_error(request)


handler500 = server_error
