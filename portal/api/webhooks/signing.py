"""Standard Webhooks signatures, made with the ``standardwebhooks`` package.

A secret is ``whsec_`` and the base64 of 32 random bytes. The signature of a message is
``v1,`` and the base64 of HMAC-SHA256, keyed with those bytes, over ``{id}.{timestamp}.{body}``
(``timestamp`` in whole seconds since the epoch, as the ``webhook-timestamp`` header).
Receivers verify with the same package (``Webhook(secret).verify(body, headers)``), which also
refuses timestamps more than five minutes away from its clock: a captured delivery replayed
later is rejected, and a redelivery is signed again with a fresh timestamp. While a rotated
secret overlaps with its successor, each delivery carries both signatures.
"""

import base64
import secrets as random_bytes
from datetime import UTC, datetime

from django.views.decorators.debug import sensitive_variables
from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh signing secret, to show once and to store encrypted."""
    return SECRET_PREFIX + base64.b64encode(random_bytes.token_bytes(SECRET_BYTES)).decode()


@sensitive_variables("secrets")
def headers(*, secrets: list[str], message_id: str, body: str, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt (``at`` in UTC, whole seconds sent), with
    one signature per secret, space-separated (the current one first; a rotated-out one
    during its overlap), as the specification allows."""
    when = at.astimezone(UTC)
    signatures = [
        Webhook(secret).sign(msg_id=message_id, timestamp=when, data=body) for secret in secrets
    ]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
    }
