"""The portal's staff permissions by their full names, written only here: the models' Meta
classes declare them; the staff pages (``portal.staff.access``), the admin and the staff alerts
(``portal.grants.client_health``) check them."""

VIEW_ALL_GRANTS = "portal.view_all_grants"
REVOKE_ANY_GRANT = "portal.revoke_any_grant"
MANAGE_SERVICE_KEYS = "portal.manage_service_keys"
MANAGE_WEBHOOKS = "portal.manage_webhooks"
RUN_MIGRATIONS = "portal.run_migrations"


def _codename(permission: str) -> str:
    """What a Meta declares for a full permission name (``view_all_grants``)."""
    return permission.partition(".")[2]
