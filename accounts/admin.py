from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Model
from django.http import HttpRequest

from accounts.models import AuditEvent, RateCounter, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ("email",)
    list_display = ("email", "first_name", "last_name", "is_staff", "is_active", "date_joined")
    search_fields = ("email", "first_name", "last_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows can be read in the admin; nobody can add, change or delete them there."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = (
        "seq",
        "created_at",
        "action",
        "outcome",
        "actor_repr",
        "grant_repr",
        "owner_repr",
        "ip_address",
    )
    list_filter = ("action", "outcome")
    search_fields = ("actor_repr", "grant_repr", "owner_repr", "=grant_id", "=seq")
    date_hierarchy = "created_at"
    show_full_result_count = False  # a second COUNT(*) over a million rows buys nothing
    readonly_fields = tuple(field.name for field in AuditEvent._meta.fields)


@admin.register(RateCounter)
class RateCounterAdmin(ReadOnlyAdmin):
    """Rate-limit windows: which key (IP or account) was counted how often."""

    list_display = ("key", "window_start", "hits")
    search_fields = ("key",)
    date_hierarchy = "window_start"
    ordering = ("-window_start",)
    readonly_fields = ("key", "window_start", "hits")
