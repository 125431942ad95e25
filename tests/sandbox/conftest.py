"""Tools for the sandbox's own tests: a stand-in OAuth client that speaks to the sandbox the way
the reference says a Zoho client must, through Django's test client (fast) or real HTTP."""

import base64
import hashlib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx2
import pytest
from django.test import Client

from tests.sandbox_control import SandboxControl

if TYPE_CHECKING:
    # What the test client's requests answer (the name exists only in django-stubs).
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

US_ZUID, EU_ZUID, IN_ZUID, CN_ZUID, UK_ZUID = (
    "10000001",
    "20000001",
    "30000001",
    "80000001",
    "99000001",
)
US_ORGS, EU_ORG, CN_ORG = ("60000001", "60000002"), "70000001", "81000001"
VERIFIER = "v" * 20 + "-._~" + "0123456789abcdefghijklmnopqrstuvwxyz"
SCOPE = "Desk.basic.READ,Desk.settings.READ,AaaServer.profile.READ"
TOKEN_SHAPE = re.compile(r"^1000\.[0-9a-f]{32}\.[0-9a-f]{32}$")


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def json_object(response: "TestResponse") -> dict[str, Any]:
    """The response's body, which must be a JSON object."""
    body = response.json()
    assert isinstance(body, dict), body
    return body


def query(url: str) -> dict[str, str]:
    """The query parameters of a URL (decoded)."""
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


class Zoho:
    """A test's view of the sandbox through Django's test client: each method is one request."""

    def __init__(self, client: Client, settings: Any, base: str = "/sandbox") -> None:
        self.http = client
        self.base = base
        self.client_id = settings.ZOHO_CLIENT_ID
        self.secret = settings.ZOHO_CLIENT_SECRET
        self.redirect_uri = settings.ZOHO_REDIRECT_URI

    def auth_params(self, **overrides: Any) -> dict[str, str]:
        params = {
            "client_id": self.client_id,
            "response_type": "code",
            "redirect_uri": self.redirect_uri,
            "scope": SCOPE,
            "access_type": "offline",
            "prompt": "consent",
            "state": "state-123",
            "code_challenge": s256(VERIFIER),
            "code_challenge_method": "S256",
        }
        params.update(overrides)
        return {k: v for k, v in params.items() if v is not None}

    def auth_url(self, dc: str = "us", **overrides: Any) -> str:
        return f"{self.base}/{dc}/accounts/oauth/v2/auth?{urlencode(self.auth_params(**overrides))}"

    def consent_response(
        self,
        dc: str = "us",
        zuid: str | None = EU_ZUID,
        decision: str = "approve",
        **overrides: Any,
    ) -> "TestResponse":
        form = {"decision": decision}
        if zuid:
            form["zuid"] = zuid
        return self.http.post(self.auth_url(dc, **overrides), form)

    def consent(self, dc: str = "us", zuid: str | None = EU_ZUID, **overrides: Any) -> dict:
        """Approve (by default) and return the callback's query parameters."""
        response = self.consent_response(dc, zuid, **overrides)
        assert response.status_code == 302, response.content[:500]
        return query(response["Location"])

    def token(self, dc: str, **data: Any) -> "TestResponse":
        return self.http.post(f"{self.base}/{dc}/accounts/oauth/v2/token", data)

    def exchange(self, callback: dict, *, dc: str | None = None, **overrides: Any) -> dict:
        data = {
            "grant_type": "authorization_code",
            "client_id": self.client_id,
            "client_secret": self.secret,
            "redirect_uri": self.redirect_uri,
            "code": callback.get("code"),
            "code_verifier": VERIFIER,
        }
        data.update(overrides)
        data = {k: v for k, v in data.items() if v is not None}
        response = self.token(dc or callback["location"], **data)
        assert response.status_code == 200
        return json_object(response)

    def connect(self, zuid: str = EU_ZUID, *, start: str = "us", **auth: Any) -> dict:
        """Consent and exchange: the token response (plus ``dc``)."""
        callback = self.consent(start, zuid, **auth)
        return {**self.exchange(callback), "dc": callback["location"]}

    def refresh(self, dc: str, refresh_token: str, **overrides: Any) -> dict:
        data = {
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "client_secret": self.secret,
            "refresh_token": refresh_token,
        }
        data.update(overrides)
        response = self.token(dc, **data)
        assert response.status_code == 200
        return json_object(response)

    def revoke(self, dc: str, token: str) -> "TestResponse":
        return self.http.post(f"{self.base}/{dc}/accounts/oauth/v2/token/revoke", {"token": token})

    def userinfo(
        self, dc: str, token: str | None, scheme: str = "Zoho-oauthtoken"
    ) -> "TestResponse":
        headers = {"Authorization": f"{scheme} {token}"} if token else {}
        return self.http.get(f"{self.base}/{dc}/accounts/oauth/user/info", headers=headers)

    def desk(
        self, dc: str, path: str, token: str | None, *, org_id: str | None = None, **h: str
    ) -> "TestResponse":
        headers = dict(h)
        if token:
            headers["Authorization"] = f"Zoho-oauthtoken {token}"
        if org_id:
            headers["orgId"] = org_id
        return self.http.get(f"{self.base}/{dc}/desk/api/v1/{path}", headers=headers)

    def control(
        self, path: str, body: dict[str, Any] | None = None, method: str = "post"
    ) -> "TestResponse":
        url = f"{self.base}/control/{path}"
        if method == "get":
            return self.http.get(url, body or {})
        assert method == "post", method
        return self.http.post(url, body or {}, content_type="application/json")

    def fault(self, kind: str, **fields: Any) -> dict:
        response = self.control("faults", {"kind": kind, **fields})
        assert response.status_code == 201, response.content
        return json_object(response)

    def records(self, **filters: str) -> list[dict]:
        records = json_object(self.control("requests", filters, method="get"))["requests"]
        assert isinstance(records, list), records
        return records


@pytest.fixture
def zoho(db, client, settings) -> Zoho:
    return Zoho(client, settings)


@pytest.fixture
def control(live_server) -> SandboxControl:
    return SandboxControl(f"{live_server.url}/sandbox")


@pytest.fixture
def http() -> Iterator[httpx2.Client]:
    with httpx2.Client(timeout=10.0, follow_redirects=False) as session:
        yield session
