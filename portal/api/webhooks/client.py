"""The HTTP client that posts webhook deliveries: one request, to one checked address.

``http.client`` on a socket connected to the address :func:`addresses.resolve` just checked
(TLS names the URL's host for SNI and certificate checks, ``Host`` names it too), so what is
checked is what is reached. Redirects are never followed (a 3xx is a failed attempt), every
socket operation has ``WEBHOOKS_TIMEOUT_SECONDS`` and the whole attempt three times that (a
receiver dripping its answer byte by byte is cut off: the socket is shut down under it), and
nothing of the answer is read beyond its status line and headers (``http.client`` bounds
those): the receiver's body is never read, stored or logged.
"""

import http.client
import socket
import ssl
import threading
from dataclasses import dataclass

from django.conf import settings

from portal.api.webhooks.addresses import Target, UnsafeTarget, resolve

USER_AGENT = "DeskConnect-Webhooks/1"
WHOLE_ATTEMPT = 3  # the attempt's deadline, in socket timeouts (connect, send, answer)


@dataclass(frozen=True)
class Attempt:
    """How one attempt went: the answer's status code, or a short error code."""

    status_code: int | None
    error: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = ssl.create_default_context().wrap_socket(raw, server_hostname=self.host)


def post(*, url: str, headers: dict[str, str], body: bytes) -> Attempt:
    """POST ``body`` to ``url`` (checked and resolved now); never raises for the network."""
    try:
        target = resolve(url)
    except UnsafeTarget as refused:
        return Attempt(None, refused.code)
    timeout = float(settings.WEBHOOKS_TIMEOUT_SECONDS)
    connection: http.client.HTTPConnection = (
        _PinnedHTTPSConnection(target, timeout)
        if target.scheme == "https"
        else _PinnedHTTPConnection(target, timeout)
    )
    sent = {**headers, "user-agent": USER_AGENT, "content-length": str(len(body))}
    cut = threading.Event()
    deadline = threading.Timer(timeout * WHOLE_ATTEMPT, _cut_off, args=(connection, cut))
    deadline.daemon = True
    deadline.start()
    try:
        connection.request("POST", target.path, body=body, headers=sent)
        code = connection.getresponse().status
        error = "" if 200 <= code < 300 else "http_status"
    except TimeoutError:
        return Attempt(None, "timeout")
    except ssl.SSLError:
        return Attempt(None, "tls_error")
    except (OSError, http.client.HTTPException):
        return Attempt(None, "timeout" if cut.is_set() else "connection_failed")
    finally:
        deadline.cancel()
        connection.close()
    # Cut off while the headers came in, the answer ends early but looks whole: not an answer.
    return Attempt(None, "timeout") if cut.is_set() else Attempt(code, error)


def _cut_off(connection: http.client.HTTPConnection, cut: threading.Event) -> None:
    """The attempt's deadline passed: shut the socket down, so the blocked read returns."""
    cut.set()
    if connection.sock is not None:
        try:
            connection.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
