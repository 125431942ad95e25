"""The pinned table of Zoho data centres, with per-DC overrides from settings.

Hosts come from this table only, never from a request: a callback's ``accounts-server`` is
accepted only when it equals a listed DC's accounts URL exactly and agrees with ``location``.
"""

from dataclasses import dataclass

from django.conf import settings

from portal.zoho.errors import UntrustedAccountsServer

# code: (label, accounts server, Desk host, API domain). Sources: reference/zoho-oauth.md §1.2.
ZOHO_DEFAULTS: dict[str, tuple[str, str, str, str]] = {
    "us": (
        "United States",
        "https://accounts.zoho.com",
        "https://desk.zoho.com",
        "https://www.zohoapis.com",
    ),
    "eu": ("Europe", "https://accounts.zoho.eu", "https://desk.zoho.eu", "https://www.zohoapis.eu"),
    "in": ("India", "https://accounts.zoho.in", "https://desk.zoho.in", "https://www.zohoapis.in"),
    "au": (
        "Australia",
        "https://accounts.zoho.com.au",
        "https://desk.zoho.com.au",
        "https://www.zohoapis.com.au",
    ),
    "jp": ("Japan", "https://accounts.zoho.jp", "https://desk.zoho.jp", "https://www.zohoapis.jp"),
    "ca": (
        "Canada",
        "https://accounts.zohocloud.ca",
        "https://desk.zohocloud.ca",
        "https://www.zohoapis.ca",
    ),
    "sa": (
        "Saudi Arabia",
        "https://accounts.zoho.sa",
        "https://desk.zoho.sa",
        "https://www.zohoapis.sa",
    ),
    "uk": (
        "United Kingdom",
        "https://accounts.zoho.uk",
        "https://desk.zoho.uk",
        "https://www.zohoapis.uk",
    ),
    "cn": (
        "China",
        "https://accounts.zoho.com.cn",
        "https://desk.zoho.com.cn",
        "https://www.zohoapis.com.cn",
    ),
}
# China is a separate cluster; every other DC is reached through the US accounts server.
SEPARATE_REGIONS = {"cn": "cn"}
GLOBAL_START = "us"
REGIONS = {"global": "Everywhere except China", "cn": "China (zoho.com.cn)"}


@dataclass(frozen=True)
class DataCentre:
    code: str
    label: str
    accounts_url: str
    desk_url: str
    api_domain: str

    @property
    def desk_api_base(self) -> str:
        return f"{self.desk_url}/api/v1"


def data_centres() -> dict[str, DataCentre]:
    """The table as configured now: explicit URL settings, else the sandbox, else Zoho."""
    table = {}
    sandbox = settings.SANDBOX_BASE_URL.rstrip("/") if settings.SANDBOX_ENABLED else ""
    for code, (label, accounts, desk, api_domain) in ZOHO_DEFAULTS.items():
        if sandbox:
            accounts, desk = f"{sandbox}/{code}/accounts", f"{sandbox}/{code}/desk"
        accounts = settings.ZOHO_DC_ACCOUNTS_URLS.get(code) or accounts
        desk = settings.ZOHO_DC_DESK_URLS.get(code) or desk
        table[code] = DataCentre(code, label, accounts.rstrip("/"), desk.rstrip("/"), api_domain)
    return table


def data_centre(code: str) -> DataCentre:
    """The DC with this code; ``KeyError`` for an unknown one."""
    return data_centres()[code]


def start_data_centre(region: str) -> DataCentre:
    """Where an authorization request starts: the US server, or China's for China."""
    if region != "global" and region not in SEPARATE_REGIONS:
        raise KeyError(region)
    return data_centre(SEPARATE_REGIONS.get(region, GLOBAL_START))


def data_centre_for_callback(*, location: str, accounts_server: str) -> DataCentre:
    """Map a callback's ``location`` and ``accounts-server`` to one known DC, or refuse."""
    for dc in data_centres().values():
        if dc.accounts_url == accounts_server:
            if dc.code != location:
                raise UntrustedAccountsServer("location_mismatch")
            return dc
    raise UntrustedAccountsServer("untrusted_accounts_server")
