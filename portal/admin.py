"""The portal's models in the Django admin: read-only, and no secret, not even its ciphertext
or digest. Changes go through the services (and the staff pages), which audit them."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.text import capfirst
from django.views.decorators.csrf import csrf_protect

from accounts.admin import ReadOnlyAdmin, UserAdmin
from accounts.audit import AuditContext
from accounts.models import User
from portal.api.keys import revoke_service_key
from portal.grants.user_deletion import DeletionOutcome, DeletionRefused, delete_user
from portal.models import (
    MANAGE_SERVICE_KEYS,
    REVOKE_ANY_GRANT,
    PendingAuthorization,
    ServiceKey,
    TokenIssuance,
    ZohoGrant,
)

SECRET_FIELDS = ("refresh_token_encrypted", "access_token_encrypted")


def _fields_except(model: type[Model], hidden: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(field.name for field in model._meta.fields if field.name not in hidden)


admin.site.unregister(User)


@admin.register(User)
class PortalUserAdmin(UserAdmin):
    """The users' admin, whose delete (single and "delete selected") revokes the user's Zoho
    grants first through ``delete_user``; a user whose revocation waits for Zoho is
    deactivated now and deleted by the worker later."""

    @method_decorator(csrf_protect)
    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # Django's delete view wraps the POST in one transaction; deleting calls Zoho and
        # commits each step (Revoking first, so no token is handed out, and each audit event,
        # whose chain lock must not wait on Zoho), so this runs its body without one.
        view = self._delete_view  # type: ignore[attr-defined]  # not in django-stubs
        response: HttpResponse = view(request, object_id, extra_context)
        return response

    def get_deleted_objects(
        self, objs: Any, request: HttpRequest
    ) -> tuple[list[Any], dict[str, int], set[str], list[Any]]:
        """The grants, which ``PROTECT`` lists as blocking, are revoked and then deleted.

        The grants' and pending authorizations' admins are read-only; ``delete_user`` removes
        them, and revoking another user's grant takes ``portal.revoke_any_grant``.
        """
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        label = capfirst(ZohoGrant._meta.verbose_name)
        protected = [line for line in protected if not str(line).startswith(f"{label}: ")]
        perms_needed -= {str(ZohoGrant._meta.verbose_name)}
        perms_needed -= {str(PendingAuthorization._meta.verbose_name)}
        grants = ZohoGrant.objects.filter(user__in=list(objs))
        live = grants.exclude(status=ZohoGrant.Status.REVOKED).count()
        if live and not request.user.has_perm(REVOKE_ANY_GRANT):
            perms_needed.add(str(ZohoGrant._meta.verbose_name))
        if total := grants.count():
            deleted.append(f"{label}s: {total} ({live} revoked at Zoho first)")
            counts[str(ZohoGrant._meta.verbose_name_plural)] = total
        return deleted, counts, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        self._delete_users(request, [obj.pk])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        self._delete_users(request, list(queryset.values_list("pk", flat=True)))

    def response_delete(self, request: HttpRequest, obj_display: str, obj_id: int) -> HttpResponse:
        if User.objects.filter(pk=obj_id).exists():  # pending or refused: already said why
            return HttpResponseRedirect(reverse("admin:accounts_user_changelist"))
        return super().response_delete(request, obj_display, obj_id)

    def _delete_users(self, request: HttpRequest, user_ids: list[int]) -> None:
        context = AuditContext.from_request(request)
        for user_id in user_ids:
            try:
                outcome = delete_user(user_id=user_id, context=context)
            except DeletionRefused as refusal:
                self.message_user(request, str(refusal), messages.ERROR)
                continue
            if outcome is DeletionOutcome.PENDING:
                self.message_user(
                    request,
                    f"User {user_id} is deactivated; Zoho has not confirmed every revocation "
                    "yet, so the account will be deleted once it has.",
                    messages.WARNING,
                )


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
        return request.user.has_perm(MANAGE_SERVICE_KEYS)

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
