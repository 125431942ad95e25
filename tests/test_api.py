"""The token API: service-key auth, grant listing, hand-out from the cache, problems."""

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.api_calls import auth, post_token

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "body",
    [
        '{"min_valid_seconds": -1}',
        '{"min_valid_seconds": "5"}',
        '{"min_valid_seconds": 279.5}',
        '{"force_refresh": "yes"}',
        "[1]",
        "{bad",
    ],
)
def test_bad_bodies_are_400(client, make_grant, service_key, body):
    grant = make_grant()
    response = client.post(
        f"/api/v1/grants/{grant.pk}/access-token",
        data=body,
        content_type="application/json",
        **auth(service_key),
    )
    assert response.status_code == 400


def test_a_whole_number_written_with_a_point_is_an_integer(client, make_grant, service_key):
    """JSON Schema counts 279.0 as an integer; schemathesis sent it and the API said 400."""
    grant = make_grant()
    response = post_token(client, grant, service_key, {"min_valid_seconds": 279.0})
    assert response.status_code == 200


def test_force_refresh_right_after_a_refresh_is_429(client, make_grant, service_key):
    grant = make_grant(last_refreshed_at=timezone.now())
    response = post_token(client, grant, service_key, {"force_refresh": True})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_listing_filters_and_paginates(client, make_grant, make_user, service_key):
    carol = make_user("carol@example.com", email_verified_at=timezone.now())
    for n in range(55):
        make_grant(zoho_user_id=str(n))
    make_grant(user=carol, zoho_user_id="c1", organizations=[{"id": "999", "name": "Carol Co"}])
    first = client.get("/api/v1/grants", **auth(service_key)).json()
    assert len(first["grants"]) == 50 and first["next_cursor"]
    second = client.get(f"/api/v1/grants?cursor={first['next_cursor']}", **auth(service_key)).json()
    assert len(second["grants"]) == 6 and second["next_cursor"] is None
    ids = {g["id"] for g in first["grants"]} | {g["id"] for g in second["grants"]}
    assert len(ids) == 56
    by_email = client.get("/api/v1/grants?email=CAROL@example.com", **auth(service_key)).json()
    assert [g["zoho_user_id"] for g in by_email["grants"]] == ["c1"]
    by_org = client.get("/api/v1/grants?org_id=999", **auth(service_key)).json()
    assert len(by_org["grants"]) == 1
    for bad in ("status=nope", "user_id=abc", "cursor=%%%", "cursor=bm90LWpzb24", "email=a%00b"):
        assert client.get(f"/api/v1/grants?{bad}", **auth(service_key)).status_code == 400


def test_create_service_key_command_prints_the_key_once(capsys):
    call_command("create_service_key", "backend", "--expires", "30")
    output = capsys.readouterr().out
    raw = output.strip().splitlines()[-1]
    assert raw.startswith("dck_")
    from portal.models import ServiceKey

    stored = ServiceKey.objects.get(name="backend")
    assert raw not in stored.key_digest and stored.expires_at is not None


def test_openapi_document_is_served(client):
    document = client.get("/api/v1/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    assert "/grants/{grant_id}/access-token" in document["paths"]


@pytest.mark.django_db(transaction=True)
def test_hot_path_survives_a_dead_persistent_connection(client, make_grant, service_key):
    """The hot query is its own health check: a connection killed between requests is
    replaced, and the caller never sees it."""
    from django.db import connection

    grant = make_grant()
    assert post_token(client, grant, service_key).status_code == 200
    import psycopg

    pid = connection.connection.info.backend_pid

    params = {k: v for k, v in connection.get_connection_params().items() if k != "cursor_factory"}
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    response = post_token(client, grant, service_key)
    assert response.status_code == 200
    assert response.json()["access_token"] == make_grant.access_token


@pytest.mark.django_db(transaction=True)
def test_hot_query_is_a_prepared_statement(client, make_grant, service_key):
    from django.db import connection

    grant = make_grant()
    for _ in range(2):
        assert post_token(client, grant, service_key).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] >= 1
