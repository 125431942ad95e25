"""The portal's models in the Django admin: read-only, and no secret, not even its ciphertext
or digest. Changes go through the services (and the staff pages), which audit them."""

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from accounts.admin import ReadOnlyAdmin
from accounts.models import User
from portal.api.keys import revoke_service_key
from portal.models import PendingAuthorization, ServiceKey, TokenIssuance, ZohoGrant

SECRET_FIELDS = ("refresh_token_encrypted", "access_token_encrypted")


def _fields_except(model: type[Model], hidden: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(field.name for field in model._meta.fields if field.name not in hidden)


@admin.register(ZohoGrant)
class ZohoGrantAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "user", "data_centre", "status", "connected_at", "last_refreshed_at")
    list_filter = ("status", "data_centre", "warning")
    search_fields = ("zoho_email", "zoho_user_id", "user__email", "=id")
    exclude = SECRET_FIELDS
    readonly_fields = _fields_except(ZohoGrant, SECRET_FIELDS)
    list_select_related = ("user",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ZohoGrant]:
        return super().get_queryset(request).defer(*SECRET_FIELDS)


PENDING_HIDDEN = ("code_verifier_encrypted", "state_digest", "session_digest")


@admin.register(PendingAuthorization)
class PendingAuthorizationAdmin(ReadOnlyAdmin):
    """Authorization requests sent to Zoho; the PKCE verifier and state digests stay out."""

    list_display = ("pk", "user", "region", "grant", "created_at", "expires_at", "consumed_at")
    list_filter = ("region", ("consumed_at", admin.EmptyFieldListFilter))
    search_fields = ("user__email",)
    date_hierarchy = "created_at"
    exclude = PENDING_HIDDEN
    readonly_fields = _fields_except(PendingAuthorization, PENDING_HIDDEN)
    list_select_related = ("user", "grant")

    def get_queryset(self, request: HttpRequest) -> QuerySet[PendingAuthorization]:
        return super().get_queryset(request).defer(*PENDING_HIDDEN, *grant_secrets("grant"))


KEY_HIDDEN = ("key_digest",)


@admin.register(ServiceKey)
class ServiceKeyAdmin(ReadOnlyAdmin):
    """Keys are created by ``create_service_key`` (shown once); the digest is never shown.
    Revoking goes through the service, which audits it."""

    list_display: tuple[str, ...] = ("name", "prefix", "created_by", "created_at", "expires_at")
    list_display += ("last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name", "=prefix")
    exclude = KEY_HIDDEN
    readonly_fields = _fields_except(ServiceKey, KEY_HIDDEN)
    list_select_related = ("created_by",)
    actions = ("revoke_keys",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ServiceKey]:
        return super().get_queryset(request).defer(*KEY_HIDDEN)

    def has_manage_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("portal.manage_service_keys")

    @admin.action(description="Revoke the selected keys", permissions=["manage"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ServiceKey]) -> None:
        # The admin site lets in only signed-in staff, so the user is never anonymous here.
        assert isinstance(request.user, User)
        keys = list(queryset.filter(revoked_at__isnull=True))
        for key in keys:
            revoke_service_key(key=key, actor=request.user)
        self.message_user(request, f"{len(keys)} key(s) revoked.", messages.SUCCESS)


@admin.register(TokenIssuance)
class TokenIssuanceAdmin(ReadOnlyAdmin):
    """Which key received which grant's access token (the token itself is never stored)."""

    list_display = ("pk", "service_key", "grant", "access_token_expires_at", "first_issued_at")
    list_filter = ("service_key",)
    search_fields = ("=grant__id", "service_key__name")
    date_hierarchy = "first_issued_at"
    readonly_fields = _fields_except(TokenIssuance, ())
    list_select_related = ("service_key", "grant")

    def get_queryset(self, request: HttpRequest) -> QuerySet[TokenIssuance]:
        hidden = (*grant_secrets("grant"), "service_key__key_digest")
        return super().get_queryset(request).defer(*hidden)


def grant_secrets(relation: str) -> tuple[str, ...]:
    """The grant's ciphertext columns seen through ``relation`` (kept out of memory)."""
    return tuple(f"{relation}__{name}" for name in SECRET_FIELDS)
