from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from portal import views

app_name = "portal"

portal_patterns = [
    path("", views.landing, name="landing"),
    path("connections/", views.connections, name="connections"),
    path("connections/connect/", views.connect_start, name="connect"),
    path("connections/callback/", views.callback, name="callback"),
    path("connections/failed/", views.connect_failed, name="connect_failed"),
    path("connections/<uuid:grant_id>/", views.grant_detail, name="grant_detail"),
    path("healthz", views.healthz, name="healthz"),
]

urlpatterns = [
    path("", include((portal_patterns, "portal"))),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
]

if settings.SANDBOX_ENABLED:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
