"""URLs under /staff/. Each area of the staff pages keeps its own list of patterns."""

from django.urls import path

from portal.staff import audit_views, overview_views, views

app_name = "staff"

urlpatterns = [
    path("", views.staff_home, name="home"),
    path("overview/", overview_views.overview, name="overview"),
    path("audit/", audit_views.audit, name="audit"),
    path("audit/export.csv", audit_views.audit_export_csv, name="audit_export_csv"),
    path("audit/export.jsonl", audit_views.audit_export_jsonl, name="audit_export_jsonl"),
]
