"""Grants in the Django admin: read-only, and no token material, not even ciphertext."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.admin import ReadOnlyAdmin
from portal.models import ZohoGrant

SECRET_FIELDS = ("refresh_token_encrypted", "access_token_encrypted")


@admin.register(ZohoGrant)
class ZohoGrantAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "user", "data_centre", "status", "connected_at", "last_refreshed_at")
    list_filter = ("status", "data_centre")
    search_fields = ("zoho_email", "zoho_user_id", "user__email", "=id")
    exclude = SECRET_FIELDS
    readonly_fields = tuple(
        field.name for field in ZohoGrant._meta.fields if field.name not in SECRET_FIELDS
    )
    list_select_related = ("user",)

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).defer(*SECRET_FIELDS)
