"""Staff service-key page: list, create (shown once), revoke; the key never leaks."""

import logging
import re

import pytest
from django.test import Client

from accounts.models import AuditEvent
from portal.api.keys import create_service_key
from portal.models import ServiceKey
from tests.leaks import assert_no_leak
from tests.staff_permissions import assert_permission_matrix, client_for, give

pytestmark = pytest.mark.django_db
KEY = re.compile(r"dck_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


@pytest.fixture
def keeper(make_user):
    user = make_user("keeper@example.com", is_staff=True)
    give(user, "manage_service_keys")
    return user


def test_every_key_page_needs_manage_service_keys(alice, staff, make_user):
    key, _ = create_service_key(name="desk app")
    assert_permission_matrix(
        method="get", url="/staff/keys/", codename="manage_service_keys",
        alice=alice, staff=staff, make_user=make_user,
    )  # fmt: skip
    assert_permission_matrix(
        method="post", url="/staff/keys/", codename="manage_service_keys",
        alice=alice, staff=staff, make_user=make_user, data={"name": "x"}, ok=(201,),
    )  # fmt: skip
    assert_permission_matrix(
        method="post", url=f"/staff/keys/{key.pk}/revoke/", codename="manage_service_keys",
        alice=alice, staff=staff, make_user=make_user,
    )  # fmt: skip
    assert ServiceKey.objects.filter(name="x").count() == 1  # only the holder created one


def test_revoke_is_post_only_with_csrf(keeper):
    key, _ = create_service_key(name="desk app")
    assert client_for(keeper).get(f"/staff/keys/{key.pk}/revoke/").status_code == 405
    client = Client(enforce_csrf_checks=True)
    client.force_login(keeper)
    assert client.post(f"/staff/keys/{key.pk}/revoke/").status_code == 403
    assert client.post("/staff/keys/", {"name": "sneaky"}).status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None and not ServiceKey.objects.filter(name="sneaky").exists()


def test_a_created_key_is_shown_once_works_and_never_leaks(keeper, make_grant, caplog):
    caplog.set_level(logging.DEBUG)
    grant = make_grant()
    client = client_for(keeper)
    response = client.post(
        "/staff/keys/",
        {"name": "desk app <prod>", "expires_in_days": "30", "created_by": "1", "prefix": "x"},
    )
    body = response.content.decode()
    assert response.status_code == 201 and "no-store" in response["Cache-Control"]
    found = KEY.search(body)
    assert found is not None
    raw_key = found.group(0)
    key = ServiceKey.objects.get()
    assert key.name == "desk app <prod>" and key.created_by_id == keeper.pk
    assert key.expires_at is not None and raw_key.startswith(f"dck_{key.prefix}_")
    assert "desk app &lt;prod&gt;" in body
    later = client.get("/staff/keys/").content.decode()
    assert raw_key not in later and f"dck_{key.prefix}_…" in later
    api = Client().get(f"/api/v1/grants/{grant.pk}", HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert api.status_code == 200
    event = AuditEvent.objects.get(action="service_key.created")
    assert event.actor_id == keeper.pk
    secret_part = raw_key.split("_", 2)[2]
    assert_no_leak([raw_key, secret_part], later, caplog.text, str(event.detail))


def test_a_revoked_key_gets_401_and_is_audited(keeper, make_grant):
    grant = make_grant()
    key, raw_key = create_service_key(name="desk app")
    url = f"/api/v1/grants/{grant.pk}"
    assert Client().get(url, HTTP_AUTHORIZATION=f"Bearer {raw_key}").status_code == 200
    response = client_for(keeper).post(f"/staff/keys/{key.pk}/revoke/", follow=True)
    assert "was revoked" in response.content.decode()
    assert Client().get(url, HTTP_AUTHORIZATION=f"Bearer {raw_key}").status_code == 401
    event = AuditEvent.objects.get(action="service_key.revoked")
    assert event.actor_id == keeper.pk
    again = client_for(keeper).post(f"/staff/keys/{key.pk}/revoke/", follow=True)
    assert "already revoked" in again.content.decode()
    assert AuditEvent.objects.filter(action="service_key.revoked").count() == 1


@pytest.mark.parametrize(
    "data",
    [{"name": ""}, {"name": "x" * 101}, {"name": "ok", "expires_in_days": "0"},
     {"name": "ok", "expires_in_days": "lots"}, {"name": "bad\x1b[0m"}],
)  # fmt: skip
def test_bad_input_gets_a_form_error_and_creates_nothing(keeper, data):
    response = client_for(keeper).post("/staff/keys/", data)
    assert response.status_code == 400 and 'class="error"' in response.content.decode()
    assert not KEY.search(response.content.decode())
    assert not ServiceKey.objects.exists()


def test_key_list_query_count_does_not_grow(keeper, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(keeper)
    for number in range(3):
        create_service_key(name=f"k{number}", created_by=keeper)
    with CaptureQueriesContext(connection) as few:
        client.get("/staff/keys/")
    for number in range(3, 30):
        create_service_key(name=f"k{number}", created_by=keeper)
    with django_assert_max_num_queries(len(few)):
        body = client.get("/staff/keys/").content.decode()
    assert body.count("keeper@example.com") >= 30
