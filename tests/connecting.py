"""Tools for tests that drive the connect flow: what reached Zoho, what a URL carries, a decoy."""

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from portal.crypto import decrypt_token
from tests.sandbox_control import SandboxControl

if TYPE_CHECKING:
    from portal.models import ZohoGrant


def token_calls(sandbox: SandboxControl) -> list[dict[str, Any]]:
    """Every code exchange and refresh the sandbox received (NO-EGRESS checks want none)."""
    return [r for r in sandbox.requests() if r["endpoint"] in ("token", "refresh")]


def query_of(url: str) -> dict[str, str]:
    """The query parameters of ``url``, first value of each."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def secrets_of(grant: "ZohoGrant") -> list[str]:
    """The grant's plain refresh and access tokens, as stored now."""
    grant.refresh_from_db()
    return [
        decrypt_token(grant.refresh_token_encrypted, context=str(grant.pk)),
        decrypt_token(grant.access_token_encrypted, context=str(grant.pk)),
    ]


def wait_for(condition: Callable[[], object], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


class Decoy:
    """A local listener that must never be contacted (a second NO-EGRESS witness)."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                outer.hits.append(self.path)
                self.send_response(500)
                self.end_headers()

            do_GET = do_POST  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def grant_rows(**filters: Any) -> list[dict[str, Any]]:
    """Every column of the matching grants, ciphertext as bytes (NO-LOSS compares these)."""
    from portal.models import ZohoGrant

    rows = ZohoGrant.objects.filter(**filters).order_by("pk").values()
    return [{k: bytes(v) if isinstance(v, memoryview) else v for k, v in r.items()} for r in rows]


def refreshes(sandbox: SandboxControl, dc: str | None = None) -> list[dict[str, Any]]:
    """Every refresh the sandbox received (of ``dc`` when given), oldest first."""
    return [r for r in sandbox.requests(dc=dc) if r["endpoint"] == "refresh"]


def expire(grant: "ZohoGrant") -> None:
    """The grant's access token expired a minute ago, after an hour's life."""
    from datetime import timedelta

    from django.utils import timezone

    from portal.models import ZohoGrant

    ZohoGrant.objects.filter(pk=grant.pk).update(
        access_token_expires_at=timezone.now() - timedelta(minutes=1),
        last_refreshed_at=timezone.now() - timedelta(minutes=61),
    )
