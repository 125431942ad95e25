from django.urls import path

from portal.api import desk_proxy, openapi, views
from portal.api.webhooks import views as webhook_views

app_name = "api"

urlpatterns = [
    path("grants", views.grant_list, name="grant_list"),
    path("grants/<uuid:grant_id>", views.grant_detail, name="grant_detail"),
    path("grants/<uuid:grant_id>/access-token", views.access_token, name="access_token"),
    path("grants/<uuid:grant_id>/revoke", views.grant_revoke, name="grant_revoke"),
    path("connect-sessions", views.connect_session_create, name="connect_session_create"),
    path("grants/<uuid:grant_id>/desk/<path:desk_path>", desk_proxy.desk_proxy, name="desk_proxy"),
    path("webhooks", webhook_views.webhooks, name="webhooks"),
    path("webhooks/<uuid:webhook_id>", webhook_views.webhook_delete, name="webhook_delete"),
    path("webhooks/<uuid:webhook_id>/secret", webhook_views.webhook_secret, name="webhook_secret"),
    path("openapi.json", openapi.openapi_document, name="openapi"),
    path("ping", openapi.ping, name="ping"),
]
