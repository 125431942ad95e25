"""IV: hostile input at the callback and in what Zoho sends back (security checklist, section F)."""

from urllib.parse import urlencode

import pytest

from tests.connecting import query_of, token_calls

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
