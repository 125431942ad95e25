"""SC: sessions, CSRF, cookies and framing (security checklist, section B)."""

import pytest

from tests.cast import EU
from tests.connecting import token_calls

pytestmark = pytest.mark.django_db(transaction=True)


def test_SC_07_session_that_ended_during_consent_restarts_cleanly(portal, sandbox):
    callback_url = sandbox.consent(portal.start(), zuid=EU)
    portal.client.logout()
    response = portal.callback(callback_url)
    assert response.status_code == 303
    assert response["Location"] == "/accounts/login/"
    assert token_calls(sandbox) == []
