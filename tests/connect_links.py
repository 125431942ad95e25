"""Connect sessions as the app's backend makes them, and the link's path for a test client."""

import json
from typing import Any
from urllib.parse import urlsplit

from django.test import Client

RETURN_URL = "https://app.example.com/desk/done"


def create_session(client: Client, raw_key: str, **body: Any):
    """POST /api/v1/connect-sessions; ``body`` defaults to a new customer with a return_url."""
    payload = {
        "external_id": "cust-42",
        "email": "carol@customer.example",
        "display_name": "Carol",
        "return_url": RETURN_URL,
        **body,
    }
    payload = {name: value for name, value in payload.items() if value is not None}
    return client.post(
        "/api/v1/connect-sessions",
        data=json.dumps(payload),
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw_key}"},
    )


def link_path(created: dict[str, Any]) -> str:
    """The path of a created session's url (the test client speaks to the portal directly)."""
    return str(urlsplit(created["url"]).path)


def secret_of(created: dict[str, Any]) -> str:
    return str(link_path(created).rstrip("/").rsplit("/", 1)[-1])
