"""PortalBrowser: a person in the portal (Django's test client) who consents on the sandbox."""

from urllib.parse import urlsplit


class PortalBrowser:
    """A person in the portal (Django's test client) who consents on the sandbox over HTTP."""

    def __init__(self, client, sandbox) -> None:
        self.client = client
        self.sandbox = sandbox

    def start(self, region: str = "global") -> str:
        """Press Connect; return the Zoho authorize URL the portal redirected to."""
        response = self.client.post("/connections/connect/", {"region": region})
        assert response.status_code == 302, response.content[:300]
        return response["Location"]

    def callback(self, url: str):
        """Follow Zoho's redirect back to the portal's callback."""
        parts = urlsplit(url)
        return self.client.get(f"{parts.path}?{parts.query}")

    def connect(self, zuid: str, region: str = "global", approve: bool = True):
        """The whole flow; returns the callback's response."""
        callback_url = self.sandbox.consent(self.start(region), zuid=zuid, approve=approve)
        return self.callback(callback_url)
