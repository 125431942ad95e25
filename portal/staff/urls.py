"""URLs under /staff/. Each area of the staff pages keeps its own list of patterns."""

from django.urls import path

from portal.staff import overview_views, views

app_name = "staff"

urlpatterns = [
    path("", views.staff_home, name="home"),
    path("overview/", overview_views.overview, name="overview"),
]
