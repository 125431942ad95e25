"""PortalBrowser: a person in the portal (Django's test client) who consents on the sandbox."""

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.test import Client

from tests.sandbox_control import SandboxControl

if TYPE_CHECKING:
    # What the test client's requests answer: a response with .json(), .context and the like
    # (the name exists only in django-stubs).
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse


class PortalBrowser:
    """A person in the portal (Django's test client) who consents on the sandbox over HTTP."""

    def __init__(self, client: Client, sandbox: SandboxControl) -> None:
        self.client = client
        self.sandbox = sandbox

    def start(self, region: str = "global") -> str:
        """Press Connect; return the Zoho authorize URL the portal redirected to."""
        response = self.client.post("/connections/connect/", {"region": region})
        assert response.status_code == 302, response.content[:300]
        return response["Location"]

    def callback(self, url: str) -> "TestResponse":
        """Follow Zoho's redirect back to the portal's callback."""
        parts = urlsplit(url)
        return self.client.get(f"{parts.path}?{parts.query}")

    def connect(self, zuid: str, region: str = "global", approve: bool = True) -> "TestResponse":
        """The whole flow; returns the callback's response."""
        callback_url = self.sandbox.consent(self.start(region), zuid=zuid, approve=approve)
        return self.callback(callback_url)
