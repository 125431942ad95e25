"""Calls to the token API with Django's test client, as the app's backend makes them."""

import json
from typing import Any

from django.test import Client


def auth(raw_key: str) -> dict[str, str]:
    """The test client's keyword for ``Authorization: Bearer <raw_key>``."""
    return {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}


def post_token(client: Client, grant: Any, raw_key: str, body: dict[str, Any] | None = None):
    """POST /api/v1/grants/<id>/access-token with ``body`` (``{}`` when none)."""
    return client.post(
        f"/api/v1/grants/{grant.pk}/access-token",
        data=json.dumps(body or {}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw_key}"},
    )
