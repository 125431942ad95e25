"""The request record: one row per request, outcomes and identifiers, never a secret."""

from django.core import serializers

from tests.sandbox.conftest import EU_ORG, EU_ZUID, VERIFIER


def test_every_endpoint_is_recorded_with_its_outcome(zoho):
    tokens = zoho.connect(EU_ZUID)
    zoho.refresh("eu", "1000.unknown.token")
    zoho.desk("eu", "myinfo", tokens["access_token"], org_id=EU_ORG)
    zoho.desk("eu", "organizations", None)
    rows = zoho.records()
    assert [(r["dc"], r["endpoint"], r["method"], r["status"], r["error"]) for r in rows] == [
        ("us", "auth", "POST", 302, None),
        ("eu", "token", "POST", 200, None),
        ("eu", "refresh", "POST", 200, "invalid_code"),
        ("eu", "desk_myinfo", "GET", 200, None),
        ("eu", "desk_organizations", "GET", 401, "INVALID_OAUTH"),
    ]
    token_row = rows[1]
    assert token_row["client_id"] == zoho.client_id
    assert token_row["zuid"] == EU_ZUID and token_row["grant_id"] is not None
    assert rows[3]["grant_id"] == token_row["grant_id"]


def test_no_secret_is_stored_in_clear_anywhere_in_the_sandbox(zoho):
    callback = zoho.consent("us", EU_ZUID)
    tokens = zoho.exchange(callback)
    fresh = zoho.refresh("eu", tokens["refresh_token"])
    zoho.revoke("eu", fresh["access_token"])
    from sandbox import models

    dump = serializers.serialize(
        "json",
        [
            *models.RecordedRequest.objects.all(),
            *models.RefreshToken.objects.all(),
            *models.AccessToken.objects.all(),
            *models.AuthorizationCode.objects.all(),
            *models.Client.objects.all(),
        ],
    )
    dump += str(zoho.records()) + zoho.http.get("/sandbox/").content.decode()
    for secret in (
        callback["code"],
        tokens["access_token"],
        tokens["refresh_token"],
        fresh["access_token"],
        zoho.secret,
        VERIFIER,
    ):
        assert secret not in dump


def test_hostile_client_ids_are_cleaned_before_they_are_stored(zoho):
    zoho.token("eu", grant_type="refresh_token", client_id="<script>" + "x" * 500)
    stored = zoho.records()[-1]["client_id"]
    assert "<" not in stored and len(stored) <= 200


def test_unknown_data_centres_are_recorded_as_404(zoho):
    assert zoho.http.get("/sandbox/mars/desk/api/v1/organizations").status_code == 404
    assert zoho.records()[-1]["dc"] == "mars" and zoho.records()[-1]["status"] == 404


def test_nul_bytes_never_reach_the_database(zoho):
    """Postgres text cannot hold NUL; the sandbox treats such values as unknown, never a 500."""
    assert zoho.token("eu", grant_type="authorization_code", client_id="a\x00b").json() == {
        "error": "invalid_client"
    }
    page = zoho.http.get(zoho.auth_url("us", client_id="a\x00b"))
    assert page.status_code == 400
    assert zoho.records(client_id="a\x00b") == []
    assert zoho.control("users/1%002/revoke").status_code == 404
    bad_fault = zoho.control("faults", {"kind": "api_domain", "value": "x\x00"})
    assert bad_fault.status_code == 400
    bad_client = {"client_id": "c", "client_secret": "s\x00", "redirect_uris": ["http://c/"]}
    assert zoho.control("clients", bad_client).status_code == 400
