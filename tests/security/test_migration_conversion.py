"""MG-03: an authtoken is converted only at its own data centre's pinned accounts server, and a
wrong data centre or org id fails cleanly, for good, without a grant in Zoho."""

import pytest

from portal.zoho import DeadAuthtoken, WrongOrganization, convert_authtoken, data_centre
from tests.cast import EU, US

pytestmark = pytest.mark.django_db(transaction=True)


def authtoken(sandbox, zuid: str) -> str:
    return str(next(row["authtoken"] for row in sandbox.authtokens() if row["zuid"] == zuid))


def test_MG_03_an_authtoken_goes_only_to_the_named_data_centres_accounts_server(sandbox):
    value = authtoken(sandbox, US)
    with pytest.raises(DeadAuthtoken):
        convert_authtoken(dc=data_centre("eu"), authtoken=value, org_id="60000001")
    calls = sandbox.requests()
    assert [(c["dc"], c["endpoint"]) for c in calls] == [("eu", "authtooauth")]
    assert sandbox.grants() == []


def test_MG_03_an_org_id_not_the_customers_fails_cleanly_without_a_grant(sandbox):
    with pytest.raises(WrongOrganization) as raised:
        convert_authtoken(dc=data_centre("eu"), authtoken=authtoken(sandbox, EU), org_id="60000001")
    assert raised.value.code == "wrong_org" and raised.value.retry_after is None
    assert sandbox.grants() == []


@pytest.mark.parametrize("org_id", ["60000001&client_id=x", "60000001\r\nsoid=1", "../1"])
def test_MG_03_an_org_id_cannot_smuggle_form_fields(sandbox, org_id):
    with pytest.raises(WrongOrganization):
        convert_authtoken(dc=data_centre("us"), authtoken=authtoken(sandbox, US), org_id=org_id)
    assert sandbox.requests() == []


def test_MG_03_a_data_centre_is_only_ever_a_code_from_the_pinned_table(settings):
    with pytest.raises(KeyError):
        data_centre("https://accounts.evil.example")
    settings.SANDBOX_ENABLED = False
    assert data_centre("eu").accounts_url == "https://accounts.zoho.eu"
