"""The app's backend talking to the Desk Connect portal: everything it needs, in one page.

Onboard a customer with a connect link, find their grant by your own customer id, call Desk
through the portal (the token never leaves it), verify the events the portal sends, revoke.
It needs a service key (``manage.py create_service_key``) and, for events, a webhook secret
(``POST /api/v1/webhooks`` shows it once). ``tests/browser/test_backend_journey.py`` runs it
against a live portal and the Zoho sandbox. Uses httpx2 (httpx's API: ``import httpx`` works
the same) and the ``standardwebhooks`` package.
"""

from collections.abc import Mapping
from typing import Any

import httpx2 as httpx
from standardwebhooks import Webhook


class DeskConnect:
    """The portal's API with one service key."""

    def __init__(self, portal_url: str, service_key: str) -> None:
        self.http = httpx.Client(
            base_url=f"{portal_url.rstrip('/')}/api/v1",
            headers={"Authorization": f"Bearer {service_key}"},
            timeout=30,
        )

    def connect_link(
        self, customer_id: str, email: str, name: str = "", return_url: str | None = None
    ) -> dict[str, Any]:
        """A single-use link for your customer: ``{"id", "url", "expires_at"}``."""
        body = {"external_id": customer_id, "email": email, "display_name": name}
        if return_url:
            body["return_url"] = return_url  # must be on the portal's allowlist
        return self._json(self.http.post("/connect-sessions", json=body))

    def grants_of(self, customer_id: str) -> list[dict[str, Any]]:
        """The customer's grants, found by your own id (never by email: anyone can sign up)."""
        return list(
            self._json(self.http.get("/grants", params={"external_id": customer_id}))["grants"]
        )

    def desk(self, grant_id: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call Desk as the customer: ``desk(g, "GET", "tickets", params={"limit": 10})``.

        The portal adds a fresh access token and the organization; Desk's own answer comes
        back (a 429 with its Retry-After included). A grant that cannot be used is a 409
        problem whose ``code`` says why (``needs_reconnect``: send a new connect link).
        """
        return self.http.request(method, f"/grants/{grant_id}/desk/{path}", **kwargs)

    def revoke(self, grant_id: str) -> dict[str, Any]:
        """Revoke at Zoho and wipe the tokens (202 while Zoho is unreachable; it retries)."""
        return self._json(self.http.post(f"/grants/{grant_id}/revoke"))

    def subscribe(self, url: str, events: list[str]) -> dict[str, Any]:
        """Register a webhook endpoint; keep the answer's ``secret`` (it is shown only now)."""
        return self._json(self.http.post("/webhooks", json={"url": url, "events": events}))

    def close(self) -> None:
        self.http.close()

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        if response.is_error:  # RFC 9457 problem details: a stable `code`, a `title`
            problem = response.json()
            raise RuntimeError(f"{response.status_code} {problem['code']}: {problem['title']}")
        body: dict[str, Any] = response.json()
        return body


def verify_event(secret: str, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    """An event the portal sent, after checking its signature and age (raises if forged or
    replayed). Deduplicate by ``headers["webhook-id"]``: a retry repeats it."""
    event: dict[str, Any] = Webhook(secret).verify(body, dict(headers))
    return event


def handle(event: dict[str, Any]) -> str:
    """What a backend typically does with each event (here: says it)."""
    grant = event["data"]
    match event["type"]:
        case "grant.connected" | "grant.reconnected" | "grant.recovered":
            return f"customer {grant['external_id']}: Desk ready ({grant['id']})"
        case "grant.needs_reconnect" | "grant.revoked":
            return f"customer {grant['external_id']}: stop calling Desk, send a connect link"
        case _:
            return f"customer {grant['external_id']}: {event['type']}"
