"""The portal's models, one module per subject; everything is importable from here
(``from portal.models import ZohoGrant``), which is where Django looks for them."""

from portal.models.connect_sessions import ConnectSession
from portal.models.grants import (
    REFRESHED_SORT_KEY,
    DataCentreHealth,
    OrphanedToken,
    PendingAuthorization,
    ZohoGrant,
)
from portal.models.keys import ServiceKey, TokenIssuance
from portal.models.migration import MigrationCampaign, MigrationCustomer
from portal.models.permissions import (
    MANAGE_SERVICE_KEYS,
    MANAGE_WEBHOOKS,
    REVOKE_ANY_GRANT,
    RUN_MIGRATIONS,
    VIEW_ALL_GRANTS,
)
from portal.models.staff import StaffRevocation, StaffRevocationItem
from portal.models.webhooks import WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = [
    "MANAGE_SERVICE_KEYS",
    "MANAGE_WEBHOOKS",
    "REFRESHED_SORT_KEY",
    "REVOKE_ANY_GRANT",
    "RUN_MIGRATIONS",
    "VIEW_ALL_GRANTS",
    "ConnectSession",
    "DataCentreHealth",
    "MigrationCampaign",
    "MigrationCustomer",
    "OrphanedToken",
    "PendingAuthorization",
    "ServiceKey",
    "StaffRevocation",
    "StaffRevocationItem",
    "TokenIssuance",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "ZohoGrant",
]
