"""IV: hostile input at the callback and in what Zoho sends back (security checklist, section F)."""

import json
from urllib.parse import quote, urlencode

import pytest

from portal.models import ZohoGrant
from tests.cast import EU
from tests.connecting import query_of, token_calls
from tests.staff_permissions import give

pytestmark = pytest.mark.django_db(transaction=True)


def test_IV_06_provider_error_description_is_never_echoed(portal, sandbox):
    authorize = portal.start()
    state = query_of(authorize)["state"]
    query = urlencode(
        {"error": "server_error", "error_description": "<script>alert(1)</script>", "state": state}
    )
    portal.client.get(f"/connections/callback/?{query}")
    page = portal.client.get("/connections/failed/").content.decode()
    assert "<script>alert(1)" not in page and "Zoho reported a problem" in page
    assert token_calls(sandbox) == []


@pytest.mark.parametrize(
    "query",
    [
        {"state": "x" * 8000, "code": "c"},
        {"state": "s", "code": "c" * 100_000},
        {"state": "s\x00", "code": "c"},
        {"state": "s", "code": "c", "accounts-server": "h" * 5000},
    ],
)
def test_IV_01_oversized_callback_values_are_refused_before_any_request(portal, sandbox, query):
    response = portal.client.get(f"/connections/callback/?{urlencode(query)}")
    assert response.status_code in (303, 400)
    assert token_calls(sandbox) == []


def test_IV_05_hostile_provider_text_is_escaped(portal, sandbox, alice):
    """Mallory's names and organization from Zoho carry markup, a template expression and a
    ``javascript:`` URL: shown as text, never run, evaluated or linked."""
    hostile = next(
        u for u in sandbox.users() if "<img" in u.get("display_name", "") or "<img" in str(u)
    )
    assert portal.connect(hostile["zuid"]).status_code == 303
    grant = ZohoGrant.objects.get(user=alice)
    pages = [
        portal.client.get(url).content.decode()
        for url in ("/connections/", f"/connections/{grant.pk}/")
    ]
    for body in pages:
        assert "<img src=x" not in body and "<svg" not in body and "<script>alert" not in body
        assert "49 Ltd" not in body and 'href="javascript:' not in body
    assert "{{7*7}} Ltd" in "".join(pages)


@pytest.mark.parametrize(
    "value", ["%00", "%FF%FE", "a%07b%1Bc", "%F0%9F%98%80", "%E2%80%AEgnp", "%C0%AF"]
)
def test_IV_02_garbage_bytes_in_state_and_code_are_refused_and_spoil_nothing(
    portal, sandbox, alice, value
):
    """NUL, invalid UTF-8, control characters, emoji and bidi marks in ``state`` and ``code``:
    a clean refusal (never a 500), no request to Zoho, and the user's real pending connect
    still completes afterwards (nothing was written or used up)."""
    callback_url = sandbox.consent(portal.start(), zuid=EU)
    for query in (f"state={value}&code=c", f"state=s&code={value}", f"state={value}"):
        response = portal.client.get(f"/connections/callback/?{query}")
        assert response.status_code in (303, 400), (query, response.status_code)
    assert token_calls(sandbox) == []
    assert portal.callback(callback_url).status_code == 303
    assert ZohoGrant.objects.filter(user=alice).count() == 1


def test_IV_03_bidi_controls_from_zoho_are_stripped_before_storing_or_showing(
    portal, sandbox, alice
):
    """Mallory's Zoho name carries a right-to-left override (``Mallory <RLO>gnp.exe`` reads as
    ``Mallory exe.png``): the override is gone from the stored grant and from every page."""
    mallory = next(u for u in sandbox.users() if u["zuid"] == "99000001")  # sandbox/seed.py
    assert "\u202e" in json.dumps(mallory, ensure_ascii=False)
    assert portal.connect(mallory["zuid"]).status_code == 303
    grant = ZohoGrant.objects.get(user=alice)
    stored = [grant.display_name, grant.zoho_email, *(o["name"] for o in grant.organizations)]
    assert not any("\u202e" in text for text in stored)
    assert grant.display_name.endswith(" Mallory")  # only the override went
    for url in ("/connections/", f"/connections/{grant.pk}/"):
        assert "\u202e" not in portal.client.get(url).content.decode()


SQLISH = ["' OR 1=1 --", "%", "_", "\\", "$$", "'; DROP TABLE portal_zohogrant; --"]


@pytest.mark.parametrize("value", SQLISH)
def test_IV_04_sql_ish_strings_are_plain_data_everywhere(client, make_grant, staff, value):
    """In search boxes, filters, sort parameters and grant ids: a 200 with no match, a 400 or a
    404, never a database error; and the grants are all still there."""
    make_grant()
    give(staff, "view_all_grants", "view_audit_log")
    client.force_login(staff)
    quoted = quote(value, safe="")
    for url in (f"/staff/grants/?q={quoted}", f"/staff/audit/?q={quoted}"):
        response = client.get(url)
        assert response.status_code in (200, 400), (url, response.status_code)
        assert "syntax error" not in response.content.decode().lower()
    assert client.get(f"/staff/grants/?sort={quoted}").status_code == 400
    assert client.get(f"/connections/{quoted}/").status_code == 404
    assert client.get(f"/staff/grants/{quoted}/").status_code == 404
    assert ZohoGrant.objects.count() == 1
