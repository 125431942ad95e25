"""One wording per code: the catalogue words every status, warning, connect failure and
token refusal once, and owner pages, staff pages and the API read the same words."""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.utils import timezone

from portal.api import problems
from portal.grants import token_decision, tokens, wording
from portal.models import ZohoGrant
from tests.staff_permissions import client_for, give

Status = ZohoGrant.Status
# Every reason a ConnectFailed can carry: the state's own four, then the callback's checks.
CONNECT_FAILURE_CODES = {
    "missing",
    "unknown",
    "used",
    "expired",
    "invalid_callback",
    "declined",
    "provider_error",
    "no_code",
    "untrusted_server",
    "rejected",
    "unavailable",
    "misconfigured",
    "no_refresh_token",
    "scope_missing",
}
REFUSAL_CODES = {
    Status.NEEDS_RECONNECT,
    Status.REVOKING,
    Status.REVOKED,
    token_decision.OWNER_INACTIVE,
    tokens.GrantUnavailable.code,
    tokens.GrantBusy.code,
    tokens.RefreshTooSoon.code,
    tokens.PortalMisconfigured.code,
    "token_unreadable",
}


def test_every_status_has_one_label_and_the_models_choice_reads_the_same():
    for status in Status:
        assert wording.status_label(status) == wording.STATUS_LABELS[status] == status.label
    assert set(wording.STATUS_LABELS) == {*Status.values, "idle"}


def test_every_warning_kind_has_one_label_and_one_explanation():
    kinds = {kind for kind in ZohoGrant.Warning.values if kind}
    assert set(wording.WARNING_LABELS) == kinds
    for kind in kinds:
        assert wording.warning_label(kind) and wording.warning_words(kind)
    assert wording.warning_label("") == wording.warning_words("") == ""


def test_every_connect_failure_code_has_one_wording():
    assert set(wording.CONNECT_FAILURES) == CONNECT_FAILURE_CODES
    assert wording.connect_failure("not-a-code") == wording.UNKNOWN_CONNECT_FAILURE


def test_every_token_refusal_has_one_wording_which_the_api_titles_reuse():
    assert set(wording.REFUSALS) == REFUSAL_CODES
    assert not set(problems.TITLES) & REFUSAL_CODES  # no second phrasing in the API
    for code in REFUSAL_CODES:
        assert problems.title(code) == wording.refusal_message(code) == wording.REFUSALS[code]
    assert wording.refusal_message("not-a-code") == wording.UNKNOWN_REFUSAL


def test_lookups_fall_back_safely_for_codes_nobody_worded():
    assert wording.error_words("") == ""
    assert wording.error_words("http_502") == wording.SERVER_ERROR_WORDS
    assert wording.error_words("something_new") == wording.UNKNOWN_ERROR_WORDS
    assert wording.rejection_words("") == wording.REJECTED_WORDS
    assert wording.event_label("not.an.action") == ""
    assert wording.status_label("not-a-status") == "not-a-status"


def _warning_sentence(body: str) -> str:
    note = re.search(r'<p class="grant-warning[^"]*">(.*?)</p>', body, re.S)
    assert note is not None, "no warning note on the page"
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", note.group(1))).split())


@pytest.mark.django_db
@pytest.mark.parametrize("kind", [kind for kind in ZohoGrant.Warning.values if kind])
def test_owner_and_staff_grant_pages_show_the_same_warning(client, alice, staff, make_grant, kind):
    grant = make_grant(warning=kind, warning_since=timezone.now() - timedelta(hours=2))
    client.force_login(alice)
    owner = _warning_sentence(client.get(f"/connections/{grant.pk}/").content.decode())
    give(staff, "view_all_grants")
    staff_page = client_for(staff).get(f"/staff/grants/{grant.pk}/").content.decode()
    assert _warning_sentence(staff_page) == owner
    assert owner.startswith(f"⚠ {wording.warning_label(kind)}.")
    assert wording.warning_words(kind) in owner
    listing = client_for(staff).get("/staff/grants/").content.decode()
    assert unescape(wording.warning_label(kind)) in unescape(listing)
