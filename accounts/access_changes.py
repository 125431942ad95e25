"""Audited changes to who may do what: new accounts, staff and superuser status, groups and
permissions, as staff make them in the Django admin.

Deactivation and reactivation have their own services (``accounts.deactivation``), which the
admin calls too, so an account is switched off one way wherever it happens.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Group, Permission

from accounts.audit import AuditContext, record_event
from accounts.models import AuditEvent, User


@dataclass(frozen=True)
class Access:
    """What a user may do, as far as the admin can change it."""

    is_staff: bool
    is_superuser: bool
    groups: frozenset[str]
    permissions: frozenset[str]  # "app_label.codename"

    @classmethod
    def of(cls, user: User) -> "Access":
        """As stored now."""
        return cls._build(
            is_staff=user.is_staff,
            is_superuser=user.is_superuser,
            groups=Group.objects.filter(user=user),
            permissions=Permission.objects.filter(user=user).select_related("content_type"),
        )

    @classmethod
    def from_initial(cls, initial: Mapping[str, Any]) -> "Access":
        """As an admin form showed it before the change (its ``initial``)."""
        return cls._build(
            is_staff=bool(initial.get("is_staff")),
            is_superuser=bool(initial.get("is_superuser")),
            groups=initial.get("groups") or (),
            permissions=initial.get("user_permissions") or (),
        )

    @classmethod
    def _build(
        cls,
        *,
        is_staff: bool,
        is_superuser: bool,
        groups: Iterable[Group],
        permissions: Iterable[Permission],
    ) -> "Access":
        return cls(
            is_staff=is_staff,
            is_superuser=is_superuser,
            groups=frozenset(group.name for group in groups),
            permissions=permission_names(permissions),
        )


def permission_names(permissions: Iterable[Permission]) -> frozenset[str]:
    return frozenset(f"{perm.content_type.app_label}.{perm.codename}" for perm in permissions)


def record_group_change(
    *, group: Group, before: frozenset[str], context: AuditContext, deleted: bool = False
) -> AuditEvent | None:
    """Audit a change of a group's permissions (each member's access changes with it), or
    the group's deletion; call in the change's transaction, before a deletion."""
    after = frozenset() if deleted else permission_names(_permissions_of(group))
    if before == after and not deleted:
        return None
    return record_event(
        action=AuditEvent.Action.GROUP_PERMISSIONS_CHANGED,
        context=context,
        detail={
            "group": group.name,
            "members": group.user_set.count(),
            "added": sorted(after - before),
            "removed": sorted(before - after),
            "deleted": deleted,
        },
    )


def _permissions_of(group: Group) -> Iterable[Permission]:
    return group.permissions.select_related("content_type")


def record_user_created(*, user: User, context: AuditContext) -> AuditEvent:
    """Audit an account staff created (call in the transaction that created it)."""
    return record_event(
        action=AuditEvent.Action.USER_CREATED,
        context=context,
        detail={
            "user_id": user.pk,
            "user": user.email,
            "is_staff": user.is_staff,
            "is_superuser": user.is_superuser,
        },
    )


def record_access_change(*, user: User, before: Access, context: AuditContext) -> AuditEvent | None:
    """Audit what changed in ``user``'s access since ``before`` (None when nothing did).

    Call after the change is saved, in its transaction: the stored state is the "after".
    """
    after = Access.of(user)
    changes: dict[str, Any] = {}
    for flag in ("is_staff", "is_superuser"):
        if getattr(before, flag) != getattr(after, flag):
            changes[flag] = {"from": getattr(before, flag), "to": getattr(after, flag)}
    for name in ("groups", "permissions"):
        old, new = getattr(before, name), getattr(after, name)
        if old != new:
            changes[name] = {"added": sorted(new - old), "removed": sorted(old - new)}
    if not changes:
        return None
    return record_event(
        action=AuditEvent.Action.USER_ACCESS_CHANGED,
        context=context,
        detail={"user_id": user.pk, "user": user.email, **changes},
    )
