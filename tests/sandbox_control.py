"""A small client for the Zoho sandbox's JSON control API, over real HTTP (httpx2).

Usage in any test that runs against a live server::

    control = SandboxControl(f"{live_server.url}/sandbox")
    control.reset()
    control.add_fault("status", endpoint="refresh", status=503, count=1)
    callback = control.consent(authorize_url, zuid="20000001")  # no browser needed
    assert [r["endpoint"] for r in control.requests(dc="eu")] == ["token", "userinfo"]
"""

import re
from datetime import datetime
from typing import Any

import httpx2

_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class SandboxError(Exception):
    """The sandbox refused a control call, or the consent step did not go as expected."""

    def __init__(self, message: str, *, status: int | None = None, body: str = "") -> None:
        super().__init__(f"{message} (HTTP {status}): {body[:500]}")
        self.status = status
        self.body = body


class SandboxControl:
    """The sandbox at ``base_url`` (e.g. ``http://localhost:8000/sandbox``)."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    # -- URLs -----------------------------------------------------------------------------

    def accounts_url(self, dc: str) -> str:
        """The accounts server of ``dc`` (what a callback's ``accounts-server`` names)."""
        return f"{self.base_url}/{dc}/accounts"

    def desk_url(self, dc: str) -> str:
        """The Desk host of ``dc`` (the API lives under ``/api/v1``)."""
        return f"{self.base_url}/{dc}/desk"

    # -- control API ----------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the seeded start: no faults, records, grants, extra clients; default settings."""
        self._post("/control/reset")

    def add_fault(
        self,
        kind: str,
        *,
        dc: str | None = None,
        endpoint: str | None = None,
        zuid: str | None = None,
        count: int | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """Add a fault switch (see sandbox/README.md for kinds and params); returns it."""
        body = {"kind": kind, "dc": dc, "endpoint": endpoint, "zuid": zuid, "count": count}
        return self._post("/control/faults", {**body, "params": params})

    def faults(self) -> list[dict[str, Any]]:
        return _records(self._get("/control/faults"), "faults")

    def clear_faults(self) -> None:
        self._post("/control/faults/clear")

    def clear_fault(self, fault_id: int) -> None:
        self._post(f"/control/faults/{fault_id}/clear")

    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        """Recorded requests, oldest first. Filters: dc, endpoint, zuid, client_id,
        since (datetime or ISO string), after (record id), limit."""
        params = {
            name: value.isoformat() if isinstance(value, datetime) else str(value)
            for name, value in filters.items()
            if value is not None
        }
        return _records(self._get("/control/requests", params=params), "requests")

    def clients(self) -> list[dict[str, Any]]:
        """Registered clients (never a secret); asking makes sure the portal's own is known."""
        return _records(self._get("/control/clients"), "clients")

    def users(self) -> list[dict[str, Any]]:
        """The seeded Zoho users with their Desk organizations."""
        return _records(self._get("/control/users"), "users")

    def user(self, *, dc: str) -> dict[str, Any]:
        """The first seeded user living in ``dc``."""
        return next(user for user in self.users() if user["dc"] == dc)

    def authtokens(self) -> list[dict[str, Any]]:
        """Each seeded user's legacy authtoken: zuid, dc, email, authtoken, org_ids."""
        return _records(self._get("/control/authtokens"), "authtokens")

    def authtoken(self, *, dc: str) -> dict[str, Any]:
        """The legacy authtoken row of the first seeded user living in ``dc``."""
        return next(row for row in self.authtokens() if row["dc"] == dc)

    def grants(
        self, *, zuid: str | None = None, client_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Issued refresh tokens (masked), newest first."""
        params = {k: v for k, v in {"zuid": zuid, "client_id": client_id}.items() if v}
        return _records(self._get("/control/grants", params=params), "grants")

    def revoke_user_grants(self, zuid: str, *, client_id: str | None = None) -> int:
        """The user revokes the client in Zoho (the portal's client unless ``client_id``)."""
        body = {"client_id": client_id} if client_id else {}
        revoked = self._post(f"/control/users/{zuid}/revoke", body)["revoked"]
        if not isinstance(revoked, int):
            raise SandboxError("revoke answered no count", body=repr(revoked))
        return revoked

    def settings(self) -> dict[str, Any]:
        return self._get("/control/settings")

    def update_settings(self, **values: Any) -> dict[str, Any]:
        """Change switches: access_token_lifetime, code_lifetime, pkce_enforced, pkce_required,
        allow_space_separated_scopes, revoke_on_code_reuse, revoke_at_any_dc."""
        return self._post("/control/settings", values)

    def set_access_token_lifetime(self, seconds: int) -> None:
        self.update_settings(access_token_lifetime=seconds)

    def set_pkce_enforced(self, enforced: bool) -> None:
        self.update_settings(pkce_enforced=enforced)

    def register_client(
        self,
        client_id: str,
        client_secret: str,
        redirect_uris: list[str],
        *,
        dc_secrets: dict[str, str] | None = None,
        data_centres: list[str] | None = None,
        name: str = "",
    ) -> dict[str, Any]:
        """Register another OAuth client (the portal's own is known from settings)."""
        return self._post(
            "/control/clients",
            {
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uris": redirect_uris,
                "dc_secrets": dc_secrets or {},
                "data_centres": data_centres,
                "name": name,
            },
        )

    # -- the consent step, without a browser ----------------------------------------------

    def consent(self, authorize_url: str, *, zuid: str | None = None, approve: bool = True) -> str:
        """Open the consent page at ``authorize_url``, pick ``zuid``, Accept (or Deny), and
        return the URL Zoho redirects to (the client's callback). Raises :class:`SandboxError`
        when the page does not render or the answer is not a redirect."""
        with httpx2.Client(timeout=self.timeout, follow_redirects=False) as client:
            page = client.get(authorize_url)
            if page.status_code != 200:
                return self._redirect_or_raise(page, "the consent page did not render")
            token = _CSRF_INPUT.search(page.text)
            # "csrftoken", or "__Host-csrftoken" where cookies are Secure (DEBUG off).
            csrf = [(name, value) for name, value in page.cookies.items() if "csrftoken" in name]
            name, cookie = csrf[0] if csrf else ("", None)
            if token is None or cookie is None:
                raise SandboxError("no CSRF token on the consent page", status=page.status_code)
            form = {"csrfmiddlewaretoken": token.group(1), "decision": "approve"}
            if not approve:
                form["decision"] = "deny"
            if zuid:
                form["zuid"] = zuid
            # The CSRF cookie is Secure when DEBUG is off; over plain http it is sent by hand.
            answer = client.post(authorize_url, data=form, headers={"Cookie": f"{name}={cookie}"})
            return self._redirect_or_raise(answer, "consent did not redirect")

    # -- plumbing -------------------------------------------------------------------------

    @staticmethod
    def _redirect_or_raise(response: httpx2.Response, message: str) -> str:
        if 300 <= response.status_code < 400 and "location" in response.headers:
            return response.headers["location"]
        raise SandboxError(message, status=response.status_code, body=response.text)

    def _get(self, path: str, *, params: dict[str, str] | None = None) -> dict[str, Any]:
        response = httpx2.get(f"{self.base_url}{path}", params=params, timeout=self.timeout)
        return self._checked(response)

    def _post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx2.post(f"{self.base_url}{path}", json=body or {}, timeout=self.timeout)
        return self._checked(response)

    @staticmethod
    def _checked(response: httpx2.Response) -> dict[str, Any]:
        if response.status_code >= 400:
            raise SandboxError(
                "control call failed", status=response.status_code, body=response.text
            )
        payload = response.json()
        if not isinstance(payload, dict):
            raise SandboxError("control call answered no JSON object", body=response.text)
        return payload


def _records(payload: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """``payload[key]``, which the control API always answers as a list of JSON objects."""
    records = payload[key]
    if not isinstance(records, list):
        raise SandboxError(f"control call answered no list of {key}", body=repr(payload)[:500])
    return records
