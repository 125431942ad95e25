"""The only code that talks to Zoho (Accounts OAuth and the Desk API).

Callers get frozen dataclasses or a :class:`ZohoError`; never a raw response.
"""

from portal.zoho.datacentres import (
    REGIONS,
    DataCentre,
    data_centre,
    data_centre_for_callback,
    data_centres,
    start_data_centre,
)
from portal.zoho.desk import DeskAgent, DeskOrganization, myinfo, organizations
from portal.zoho.errors import (
    DeadAuthtoken,
    UntrustedAccountsServer,
    WrongOrganization,
    ZohoError,
    ZohoMisconfigured,
    ZohoRejected,
    ZohoUnavailable,
)
from portal.zoho.migration import convert_authtoken
from portal.zoho.oauth import (
    AccessToken,
    TokenSet,
    ZohoUser,
    authorize_url,
    exchange_code,
    refresh,
    revoke,
    user_info,
)

__all__ = [
    "REGIONS",
    "AccessToken",
    "DataCentre",
    "DeadAuthtoken",
    "DeskAgent",
    "DeskOrganization",
    "TokenSet",
    "UntrustedAccountsServer",
    "WrongOrganization",
    "ZohoError",
    "ZohoMisconfigured",
    "ZohoRejected",
    "ZohoUnavailable",
    "ZohoUser",
    "authorize_url",
    "convert_authtoken",
    "data_centre",
    "data_centre_for_callback",
    "data_centres",
    "exchange_code",
    "myinfo",
    "organizations",
    "refresh",
    "revoke",
    "start_data_centre",
    "user_info",
]
