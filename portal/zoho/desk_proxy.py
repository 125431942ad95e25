"""The Desk proxy's side of the network: one caller's request, forwarded to a grant's Desk.

The URL is the data centre's Desk API base (from the data-centre table, as every other Desk
call) plus a path checked segment by segment: each segment is plain URL text (letters,
digits, ``-``, ``_``, ``.``, ``~``) and not made of dots only, so ``..``, ``%2e%2e`` (which
arrives decoded), a doubly encoded ``%252e`` (a ``%`` is refused), backslashes, empty
segments (``//``), ``@``, ``:`` and absolute URLs never form a URL. The URL built is then
checked again: same scheme, host and port as the base, and a path under it.

Only a few request headers are passed on (the caller's ``Authorization`` is its service key
and never leaves); the Desk token is added here. Answers are streamed back with a short list
of safe headers, bounded in size (:data:`MAX_ANSWER_BYTES`, declared or as sent) and in time
(``ZOHO_HTTP_TIMEOUT`` per phase, plus two seconds for the whole body). A body cut short
raises, so the server aborts the answer instead of ending it as if it were complete.
"""

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx2
from django.views.decorators.debug import sensitive_variables

from portal.zoho.datacentres import DataCentre
from portal.zoho.errors import ZohoError, ZohoUnavailable, safe_code
from portal.zoho.http import client_options, upstream

logger = logging.getLogger("portal.zoho")

MIB = 1024 * 1024
MAX_ANSWER_BYTES = 8 * MIB
MAX_PATH_LENGTH = 1000
MAX_QUERY_LENGTH = 4000
# Passed on from the caller when present (by name, case-insensitively); nothing else is.
REQUEST_HEADERS = ("content-type", "accept", "accept-language", "if-none-match", "orgid")
# Relayed from Desk; never Set-Cookie, Authorization, hop-by-hop or encoding headers.
ANSWER_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "content-disposition",
        "content-language",
        "retry-after",
        "etag",
        "last-modified",
    }
)
ANSWER_HEADER_PREFIXES = ("x-rate-limit-",)
_SEGMENT = re.compile(r"[A-Za-z0-9._~-]{1,200}")
_QUERY = re.compile(r"[\x21-\x22\x24-\x7e]*")  # printable ASCII without space and "#"


class UnsafeDeskPath(ZohoError):
    """A path or query that would leave the grant's Desk API base (never sent anywhere)."""


@dataclass(frozen=True)
class DeskCall:
    """A request for Desk, checked: ``url`` is under the data centre's Desk API base."""

    method: str
    url: httpx2.URL
    headers: dict[str, str]
    body: bytes = field(repr=False)
    dc: str


def desk_call(
    *, dc: DataCentre, method: str, path: str, query: str, headers: dict[str, str], body: bytes
) -> DeskCall:
    """The request to forward, or :class:`UnsafeDeskPath` for a path that is not plainly
    one under the base (see the module's docstring)."""
    segments = path.split("/")
    if len(path) > MAX_PATH_LENGTH or not all(
        _SEGMENT.fullmatch(segment) and segment.strip(".") for segment in segments
    ):
        raise UnsafeDeskPath("path_refused")
    if len(query) > MAX_QUERY_LENGTH or not _QUERY.fullmatch(query):
        raise UnsafeDeskPath("query_refused")
    base = httpx2.URL(dc.desk_api_base)
    url = httpx2.URL(f"{dc.desk_api_base}/{path}" + (f"?{query}" if query else ""))
    same_origin = (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)
    if not same_origin or not url.path.startswith(base.path.rstrip("/") + "/"):
        raise UnsafeDeskPath("path_refused")
    passed = {name: value for name, value in headers.items() if name.lower() in REQUEST_HEADERS}
    return DeskCall(method=method, url=url, headers=passed, body=body, dc=dc.code)


class DeskAnswer:
    """Desk's status, its safe headers and its body as a stream (close it when done)."""

    def __init__(
        self, client: httpx2.Client, response: httpx2.Response, *, error_code: str, dc: str
    ) -> None:
        self._client = client
        self._response = response
        self._dc = dc
        self.status = response.status_code
        self.error_code = error_code  # Desk's errorCode on a 401, lowercase; else ""
        self.headers = [
            (name, value)
            for name, value in response.headers.multi_items()
            if name.lower() in ANSWER_HEADERS or name.lower().startswith(ANSWER_HEADER_PREFIXES)
        ]

    def chunks(self) -> Iterator[bytes]:
        """The body as Desk sends it; raises :class:`ZohoUnavailable` when it is cut off
        (too large, too slow, connection lost). Closes the connection when done."""
        try:
            if self._response.is_stream_consumed:  # a 401 read for its errorCode
                yield self._response.content
            else:
                yield from self._response.iter_raw()
        except (httpx2.HTTPError, ZohoError) as error:
            code = error.code if isinstance(error, ZohoError) else "connection_failed"
            if isinstance(error, httpx2.TimeoutException):
                code = "timeout"
            logger.warning("zoho desk_proxy dc=%s outcome=cut_off_%s", self._dc, code)
            raise ZohoUnavailable(code) from None
        finally:
            self.close()

    def close(self) -> None:
        self._response.close()
        self._client.close()


@sensitive_variables("access_token", "headers")
def forward(*, call: DeskCall, access_token: str) -> DeskAnswer:
    """Send ``call`` with the grant's token; Desk's answer, whatever its status.

    Raises :class:`ZohoUnavailable` when Desk cannot be reached, does not answer in time, or
    declares a body larger than :data:`MAX_ANSWER_BYTES`.
    """
    headers = {
        **call.headers,
        "Authorization": f"Zoho-oauthtoken {access_token}",
        "Accept-Encoding": "identity",  # relayed as sent, with Desk's Content-Length
    }
    client = httpx2.Client(**client_options(max_body_bytes=MAX_ANSWER_BYTES))
    try:
        with upstream("desk_proxy", call.dc):
            request = client.build_request(
                call.method, call.url, headers=headers, content=call.body or None
            )
            response = client.send(request, stream=True)
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > MAX_ANSWER_BYTES:
                response.close()
                raise ZohoUnavailable("response_too_large")
            error_code = _error_code(response) if response.status_code == 401 else ""
    except BaseException:
        client.close()
        raise
    return DeskAnswer(client, response, error_code=error_code, dc=call.dc)


def _error_code(response: httpx2.Response) -> str:
    """Desk's ``errorCode`` of a 401 (read whole: such bodies are small, and bounded)."""
    response.read()
    try:
        body = json.loads(response.content)
    except (ValueError, RecursionError):
        return ""
    return safe_code(body.get("errorCode", "")) if isinstance(body, dict) else ""
