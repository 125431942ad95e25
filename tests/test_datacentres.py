"""The pinned data-centre table and how a callback maps onto it."""

import pytest

from portal import zoho


def test_every_dc_points_at_the_sandbox_when_it_is_on(settings):
    settings.SANDBOX_BASE_URL = "http://127.0.0.1:8000/sandbox/"
    table = zoho.data_centres()
    assert set(table) == {"us", "eu", "in", "au", "jp", "cn", "ca", "sa", "uk"}
    assert table["eu"].accounts_url == "http://127.0.0.1:8000/sandbox/eu/accounts"
    assert table["eu"].desk_api_base == "http://127.0.0.1:8000/sandbox/eu/desk/api/v1"


def test_real_zoho_hosts_without_the_sandbox(settings):
    settings.SANDBOX_ENABLED = False
    table = zoho.data_centres()
    assert table["ca"].accounts_url == "https://accounts.zohocloud.ca"
    assert table["au"].desk_url == "https://desk.zoho.com.au"
    assert table["cn"].accounts_url == "https://accounts.zoho.com.cn"


def test_explicit_urls_win(settings):
    settings.ZOHO_DC_ACCOUNTS_URLS = {**settings.ZOHO_DC_ACCOUNTS_URLS, "eu": "https://eu.example"}
    assert zoho.data_centre("eu").accounts_url == "https://eu.example"


def test_authorization_starts_in_the_us_except_for_china():
    assert zoho.start_data_centre("global").code == "us"
    assert zoho.start_data_centre("cn").code == "cn"
    with pytest.raises(KeyError):
        zoho.start_data_centre("mars")


def test_callback_maps_to_the_dc_by_exact_match(settings):
    eu = zoho.data_centre("eu")
    assert zoho.data_centre_for_callback(location="eu", accounts_server=eu.accounts_url) == eu


@pytest.mark.parametrize(
    ("location", "server"),
    [
        ("eu", "https://evil.example"),
        ("eu", "{in}"),
        ("xx", "{eu}"),
        ("", "{eu}"),
        ("eu", "{eu}/"),
        ("eu", "{eu}.evil.example"),
        ("EU", "{eu}"),
        ("eu", ""),
    ],
)
def test_callback_refuses_unknown_or_disagreeing_servers(location, server):
    table = zoho.data_centres()
    server = server.format(**{code: dc.accounts_url for code, dc in table.items()})
    with pytest.raises(zoho.UntrustedAccountsServer):
        zoho.data_centre_for_callback(location=location, accounts_server=server)
