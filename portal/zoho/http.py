"""HTTP plumbing for the Zoho client: bounded time and size, no redirects, error mapping."""

import functools
import logging
import ssl
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2
from authlib.integrations.base_client import OAuthError
from authlib.oauth2.base import OAuth2Error
from django.conf import settings

from portal.zoho.errors import (
    ZohoError,
    ZohoMisconfigured,
    ZohoRejected,
    ZohoUnavailable,
    safe_code,
)

logger = logging.getLogger("portal.zoho")

USER_AGENT = "DeskConnectPortal/1.0"
MAX_BODY_BYTES = 512 * 1024  # both as sent and as decompressed
_INFLATE_STEP = 64 * 1024
# Only gzip is asked for and decoded (boundedly, here); any other encoding is refused.
_GZIP = {"gzip", "x-gzip"}

REJECTED_ERRORS = {"invalid_code", "invalid_grant", "invalid_token", "invalid_request_token"}
MISCONFIGURED_ERRORS = {
    "invalid_client",
    "invalid_client_secret",
    "invalid_redirect_uri",
    "unauthorized_client",
    "invalid_scope",
    "unsupported_grant_type",
}
THROTTLED_ERRORS = {"access_denied"}


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The TLS settings every Zoho client shares (httpx2's defaults, built once).

    Each call to Zoho builds a client; building its default TLS context (loading the CA
    bundle) took about 30 ms of CPU, which dominated a health check's CPU in the upkeep sweep
    benchmark. An ``SSLContext`` is safe to share between threads.
    """
    return httpx2.create_ssl_context()


class _BoundedStream(httpx2.SyncByteStream):
    """Stops a body that is too large or that drips past the total deadline."""

    def __init__(
        self, stream: httpx2.SyncByteStream, deadline: float, max_bytes: int = MAX_BODY_BYTES
    ) -> None:
        self._stream = stream
        self._deadline = deadline
        self._max_bytes = max_bytes

    def __iter__(self) -> Iterator[bytes]:
        size = 0
        for chunk in self._stream:
            size += len(chunk)
            if size > self._max_bytes:
                raise ZohoUnavailable("response_too_large")
            if time.monotonic() > self._deadline:
                raise ZohoUnavailable("timeout")
            yield chunk

    def close(self) -> None:
        self._stream.close()


class _InflatedStream(httpx2.SyncByteStream):
    """Decompresses a gzip body at most ``_INFLATE_STEP`` bytes at a time, stopping past the
    size cap: a small gzip bomb never inflates into memory (httpx2 would inflate each chunk
    whole, one 64 KB chunk to 64 MB)."""

    def __init__(
        self, stream: httpx2.SyncByteStream, encoding: str, max_bytes: int = MAX_BODY_BYTES
    ) -> None:
        self._stream = stream
        self._encoding = encoding
        self._max_bytes = max_bytes

    def __iter__(self) -> Iterator[bytes]:
        if self._encoding not in _GZIP:
            raise ZohoUnavailable("malformed_response")
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        size = fed = 0
        for chunk in self._stream:
            fed += len(chunk)
            data = chunk
            while data and not inflater.eof:
                try:
                    out = inflater.decompress(data, _INFLATE_STEP)
                except zlib.error:
                    raise ZohoUnavailable("malformed_response") from None
                size += len(out)
                if size > self._max_bytes:
                    raise ZohoUnavailable("response_too_large")
                yield out
                data = inflater.unconsumed_tail
        if fed and not inflater.eof:  # cut short
            raise ZohoUnavailable("malformed_response")

    def close(self) -> None:
        self._stream.close()


class BoundedTransport(httpx2.BaseTransport):
    """Wraps a transport so every response body is bounded in size (as sent and as
    decompressed) and total time."""

    def __init__(
        self,
        total_seconds: float,
        inner: httpx2.BaseTransport | None = None,
        *,
        max_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self._total_seconds = total_seconds
        self._max_bytes = max_bytes
        self._inner = inner or httpx2.HTTPTransport(retries=0, verify=_tls_context())

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        deadline = time.monotonic() + self._total_seconds
        response = self._inner.handle_request(request)
        assert isinstance(response.stream, httpx2.SyncByteStream)
        headers = response.headers
        stream: httpx2.SyncByteStream = _BoundedStream(response.stream, deadline, self._max_bytes)
        encoding = headers.get("Content-Encoding", "").strip().lower()
        if encoding not in ("", "identity"):
            stream = _InflatedStream(stream, encoding, self._max_bytes)
            headers = httpx2.Headers(
                [
                    (name, value)
                    for name, value in headers.multi_items()
                    if name.lower() not in ("content-encoding", "content-length")
                ]
            )
        return httpx2.Response(
            status_code=response.status_code,
            headers=headers,
            stream=stream,
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._inner.close()


def client_options(*, max_body_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """Keyword arguments every Zoho HTTP client is built with.

    ``ZOHO_HTTP_TIMEOUT`` bounds each phase (connect at most 5 s) and, plus two seconds, the
    whole body; a server dripping bytes cannot hold a request (or a grant's lock) longer.
    Bodies larger than ``max_body_bytes`` (as sent or inflated) are cut off with an error.
    """
    seconds = float(settings.ZOHO_HTTP_TIMEOUT)
    return {
        "timeout": httpx2.Timeout(seconds, connect=min(seconds, 5.0)),
        "follow_redirects": False,
        "headers": {
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Accept-Encoding": "gzip",
        },
        "transport": BoundedTransport(seconds + 2.0, max_bytes=max_body_bytes),
        "trust_env": False,
    }


def _retry_after(response: httpx2.Response) -> int | None:
    value = response.headers.get("Retry-After", "")
    return min(int(value), 3600) if value.isdigit() else None


def oauth_error(error: str) -> ZohoError:
    """Turn an ``error`` value from a Zoho body into one of our exceptions."""
    code = safe_code(error)
    if code in REJECTED_ERRORS:
        return ZohoRejected(code)
    if code in MISCONFIGURED_ERRORS:
        return ZohoMisconfigured(code)
    if code in THROTTLED_ERRORS:
        return ZohoUnavailable("throttled", retry_after=60)
    return ZohoUnavailable(f"error_{code}")


@contextmanager
def upstream(endpoint: str, dc: str) -> Iterator[None]:
    """Map transport and protocol failures of one call to Zoho onto our exceptions, and log."""
    started = time.monotonic()
    try:
        yield
    except ZohoError as error:
        _log(endpoint, dc, started, error.code)
        raise
    except (OAuthError, OAuth2Error) as error:
        mapped = oauth_error(getattr(error, "error", "") or "oauth_error")
        _log(endpoint, dc, started, mapped.code)
        raise mapped from None
    except httpx2.TimeoutException:
        _log(endpoint, dc, started, "timeout")
        raise ZohoUnavailable("timeout") from None
    except httpx2.HTTPStatusError as error:
        status = error.response.status_code
        code = "throttled" if status == 429 else f"http_{status}"
        _log(endpoint, dc, started, code)
        raise ZohoUnavailable(code, retry_after=_retry_after(error.response)) from None
    except httpx2.TransportError as error:
        code = "tls_error" if _is_tls_failure(error) else "connection_failed"
        _log(endpoint, dc, started, code)
        raise ZohoUnavailable(code) from None
    except (ValueError, KeyError, TypeError, RecursionError):
        _log(endpoint, dc, started, "malformed_response")
        raise ZohoUnavailable("malformed_response") from None
    else:
        _log(endpoint, dc, started, "ok")


def _is_tls_failure(error: BaseException) -> bool:
    """Whether the TLS handshake failed (a certificate not verified, a protocol error).

    The ``ssl`` error sits a few links down the chain (httpx2's error, then httpcore2's).
    """
    link: BaseException | None = error
    for _ in range(8):
        if link is None:
            return False
        if isinstance(link, ssl.SSLError):
            return True
        link = link.__cause__ or link.__context__
    return False


def _log(endpoint: str, dc: str, started: float, outcome: str) -> None:
    elapsed_ms = int((time.monotonic() - started) * 1000)
    level = logging.INFO if outcome == "ok" else logging.WARNING
    logger.log(level, "zoho %s dc=%s outcome=%s ms=%d", endpoint, dc, outcome, elapsed_ms)


def json_object(response: httpx2.Response) -> dict[str, Any]:
    """The body as a JSON object, or raise for anything else (HTML, 3xx, 5xx, garbage).

    A 429 is throttling whatever its body says (its ``Retry-After`` is kept by ``upstream``).
    """
    status = response.status_code
    if status >= 500 or status == 429 or 300 <= status < 400:
        response.raise_for_status()
    try:
        body = response.json()
    except RecursionError:  # deeply nested JSON: refused like any other malformed body
        raise ValueError("JSON nested too deeply") from None
    if not isinstance(body, dict):
        raise ValueError("not a JSON object")
    return body
