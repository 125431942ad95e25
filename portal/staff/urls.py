"""URLs under /staff/. Each area of the staff pages keeps its own list of patterns."""

from django.urls import path

from portal.staff import (
    audit_views,
    campaign_views,
    grant_views,
    key_views,
    migration_views,
    overview_views,
    upkeep_views,
    user_views,
    views,
    webhook_views,
)

app_name = "staff"

urlpatterns = [
    path("", views.staff_home, name="home"),
    path("overview/", overview_views.overview, name="overview"),
    path("upkeep/", upkeep_views.upkeep, name="upkeep"),
    path("audit/", audit_views.audit, name="audit"),
    path("audit/export.csv", audit_views.audit_export_csv, name="audit_export_csv"),
    path("audit/export.jsonl", audit_views.audit_export_jsonl, name="audit_export_jsonl"),
]

urlpatterns += [
    path("grants/", grant_views.grants, name="grants"),
    path("grants/revoke/", grant_views.grants_revoke, name="grants_revoke"),
    path("grants/<uuid:grant_id>/", grant_views.grant_detail, name="grant_detail"),
    path("revocations/<uuid:revocation_id>/", grant_views.revocation, name="revocation"),
    path("users/", user_views.users, name="users"),
    path("users/<int:pk>/external-id/", user_views.user_external_id, name="user_external_id"),
    path("users/<int:pk>/deactivate/", user_views.user_deactivate, name="user_deactivate"),
    path("users/<int:pk>/reactivate/", user_views.user_reactivate, name="user_reactivate"),
    path("keys/", key_views.keys, name="keys"),
    path("keys/<int:pk>/revoke/", key_views.key_revoke, name="key_revoke"),
    path("webhooks/", webhook_views.webhooks, name="webhooks"),
    path("webhooks/<uuid:endpoint_id>/", webhook_views.webhook_detail, name="webhook_detail"),
    path(
        "webhooks/deliveries/<int:delivery_id>/redeliver/",
        webhook_views.webhook_redeliver,
        name="webhook_redeliver",
    ),
    path("customers/import/", migration_views.customer_import, name="customer_import"),
    path("campaigns/", campaign_views.campaigns, name="campaigns"),
    path("campaigns/<int:pk>/", campaign_views.campaign, name="campaign"),
    path(
        "campaigns/<int:pk>/customers.csv",
        campaign_views.campaign_export_csv,
        name="campaign_export_csv",
    ),
]
