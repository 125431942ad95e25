from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.db.models import Model, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from accounts.access_changes import (
    Access,
    permission_names,
    record_access_change,
    record_group_change,
    record_user_created,
)
from accounts.audit import AuditContext
from accounts.deactivation import DeactivationRefused, deactivate_user, reactivate_user
from accounts.models import AuditEvent, RateCounter, User

ADMIN_REASON = "changed in the Django admin"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ("email",)
    list_display = ("email", "first_name", "last_name", "is_staff", "is_active", "date_joined")
    search_fields = ("email", "first_name", "last_name", "=external_id")
    # Set on the staff Users page (audited) or by the API, never here.
    readonly_fields = ("external_id", "email_verified_at")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        ("The app's customer", {"fields": ("external_id", "email_verified_at")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    def save_model(self, request: HttpRequest, obj: User, form: ModelForm, change: bool) -> None:
        """Save, audited: a new account is recorded; switching an account off or on goes
        through the deactivation services (sessions ended, reason recorded)."""
        context = AuditContext.from_request(request)
        if not change:
            super().save_model(request, obj, form, change)
            record_user_created(user=obj, context=context)
            return
        active_changed = "is_active" in form.changed_data
        wanted_active = obj.is_active
        if active_changed:
            obj.is_active = bool(form.initial.get("is_active"))
        super().save_model(request, obj, form, change)
        if active_changed:
            act = reactivate_user if wanted_active else deactivate_user
            try:
                act(user_id=obj.pk, reason=ADMIN_REASON, context=context)
            except DeactivationRefused as refused:
                self.message_user(request, str(refused), messages.ERROR)
            obj.refresh_from_db(fields=["is_active"])

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Save groups and permissions, then audit every change of access (flags included)."""
        super().save_related(request, form, formsets, change)
        if change:
            record_access_change(
                user=form.instance,
                before=Access.from_initial(form.initial),
                context=AuditContext.from_request(request),
            )


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(DjangoGroupAdmin):
    """Groups, whose permission changes (every member's access) are audited."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        before = permission_names(form.initial.get("permissions") or ()) if change else frozenset()
        context = AuditContext.from_request(request)
        record_group_change(group=form.instance, before=before, context=context)

    def delete_model(self, request: HttpRequest, obj: Group) -> None:
        self._record_deleted(request, [obj])
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Group]) -> None:
        self._record_deleted(request, list(queryset))
        super().delete_queryset(request, queryset)

    def _record_deleted(self, request: HttpRequest, groups: list[Group]) -> None:
        context = AuditContext.from_request(request)
        for group in groups:
            before = permission_names(group.permissions.select_related("content_type"))
            record_group_change(group=group, before=before, context=context, deleted=True)


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
