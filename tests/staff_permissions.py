"""Staff permissions in tests: granting them, and the permission matrix every staff URL passes."""

from django.contrib.auth.models import Permission
from django.test import Client

CODENAMES = {
    "view_all_grants": "portal",
    "revoke_any_grant": "portal",
    "manage_service_keys": "portal",
    "manage_webhooks": "portal",
    "run_migrations": "portal",
    "manage_users": "accounts",
    "view_audit_log": "accounts",
}


def give(user, *codenames: str) -> None:
    for codename in codenames:
        user.user_permissions.add(
            Permission.objects.get(codename=codename, content_type__app_label=CODENAMES[codename])
        )


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def assert_permission_matrix(
    *, method: str, url: str, codename: str, alice, staff, make_user, data=None, ok=(200, 302)
) -> None:
    """Anonymous: login page; non-staff: 404; staff without ``codename``: 403; with it: ok.

    The holder gets every staff permission but ``codename`` first, to show the one
    permission is what decides.
    """
    send = (lambda c: c.get(url)) if method == "get" else (lambda c: c.post(url, data or {}))
    anonymous = send(client_for(None))
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert send(client_for(alice)).status_code == 404
    others = [name for name in CODENAMES if name != codename]
    give(staff, *others)
    assert send(client_for(staff)).status_code == 403
    from accounts.models import User

    holder = User.objects.filter(email=f"holder-{codename}@example.com").first()
    holder = holder or make_user(f"holder-{codename}@example.com", is_staff=True)
    give(holder, codename)
    assert send(client_for(holder)).status_code in ok
