"""The staff area's front door: who gets in, who gets a 404 or a 403."""

import ast
import re
import uuid
from collections import defaultdict

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.urls import URLPattern, get_resolver

from tests import import_graph

pytestmark = pytest.mark.django_db


def test_staff_home_sends_staff_to_a_section_they_may_open(client, staff):
    staff.user_permissions.add(Permission.objects.get(codename="view_all_grants"))
    client.force_login(staff)
    response = client.get("/staff/")
    assert response.status_code == 302
    assert response["Location"] == "/staff/overview/"
    page = client.get("/staff/overview/").content.decode()
    assert 'href="/staff/overview/" aria-current="page"' in page
    assert 'href="/staff/upkeep/"' in page


def test_staff_home_refuses_who_has_no_staff_permission(client, alice, staff):
    assert client.get("/staff/").status_code == 302  # anonymous: the login page
    client.force_login(alice)
    assert client.get("/staff/").status_code == 404
    client.force_login(staff)
    assert client.get("/staff/").status_code == 403


def test_the_header_shows_the_staff_link_only_to_staff_with_a_section(client, alice, staff):
    client.force_login(alice)
    assert 'href="/staff/"' not in client.get("/connections/").content.decode()
    client.force_login(staff)
    assert 'href="/staff/"' not in client.get("/connections/").content.decode()
    staff.user_permissions.add(Permission.objects.get(codename="view_all_grants"))
    assert 'href="/staff/"' in client.get("/connections/").content.decode()


def test_an_inactive_staff_member_is_refused(client, staff):
    staff.user_permissions.add(Permission.objects.get(codename="view_all_grants"))
    client.force_login(staff)
    staff.is_active = False
    staff.save()
    assert client.get("/staff/upkeep/").status_code in (302, 404)


def _staff_urls():
    """Every URL under /staff/ with a sample path and the view behind it."""
    samples = {"uuid": str(uuid.UUID(int=1)), "int": "1", "str": "x", "slug": "x"}
    found = []

    def walk(patterns, prefix):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLPattern):
                if route.startswith("staff/"):
                    path = "/" + route
                    for converter, value in samples.items():
                        path = re.sub(rf"<{converter}:\w+>", value, path)
                    found.append((path, pattern.callback))
            else:
                walk(pattern.url_patterns, route)

    walk(get_resolver().url_patterns, "")
    return found


def test_every_staff_page_names_its_permission():
    urls = _staff_urls()
    assert len(urls) >= 2
    for path, view in urls:
        if path == "/staff/":
            continue
        assert getattr(view, "staff_permission", None), f"{path} is not behind a staff permission"


@pytest.mark.parametrize("method", ["get", "post"])
def test_no_staff_url_opens_to_the_wrong_people(client, alice, staff, method):
    for path, _view in _staff_urls():
        client.logout()
        response = getattr(client, method)(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/accounts/login/"), path
        client.force_login(alice)
        assert getattr(client, method)(path).status_code in (404, 405), path
        client.force_login(staff)
        assert getattr(client, method)(path).status_code in (403, 405), path


def test_grant_staff_permissions_command(staff, alice):
    from django.core.management import CommandError, call_command

    call_command("grant_staff_permissions", "ALICE@example.com", "--perm", "portal.view_all_grants")
    alice.refresh_from_db()
    assert alice.is_staff and alice.has_perm("portal.view_all_grants")
    assert not alice.has_perm("portal.revoke_any_grant")
    call_command("grant_staff_permissions", "staff@example.com", "--all")
    staff = type(staff).objects.get(pk=staff.pk)
    assert staff.has_perm("accounts.manage_users") and staff.has_perm("portal.manage_service_keys")
    with pytest.raises(CommandError):
        call_command("grant_staff_permissions", "nobody@example.com", "--all")
    with pytest.raises(CommandError):
        call_command("grant_staff_permissions", "staff@example.com")


def test_each_staff_permission_is_written_out_in_one_module():
    """A permission's full name (``portal.view_all_grants``) is spelled in one module and
    imported elsewhere, so renaming or splitting one cannot leave a page or an alert (the
    client-rejected mail) asking for a permission nobody holds."""
    declared = {
        f"{model._meta.app_label}.{codename}"
        for model in apps.get_models()
        for codename, _ in model._meta.permissions
    }
    writers: dict[str, set[str]] = defaultdict(set)
    for module, path in import_graph.modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in declared:
                writers[node.value].add(module)
    assert {"portal.view_all_grants", "accounts.manage_users"} <= set(writers)
    assert {name: sorted(mods) for name, mods in writers.items() if len(mods) > 1} == {}
