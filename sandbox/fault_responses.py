"""The HTTP side of fault switches: what a blocking fault answers, dropped connections, drip."""

import json
import socket
import struct
import time
import zlib
from collections.abc import Iterator
from typing import Any

from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from sandbox.authtokens import DEAD_AUTHTOKEN, WRONG_ORG
from sandbox.models import Fault
from sandbox.records import SandboxRequest
from sandbox.tokens import ACCESS_DENIED_BODY

DRIP_LIMIT_SECONDS = 30.0
# Blocking kinds that answer HTTP 200 with a Zoho error code (``error_200`` takes any).
INJECTED_ERRORS = {
    "error_200": "invalid_code",
    "invalid_code": "invalid_code",
    "dead_authtoken": DEAD_AUTHTOKEN,
    "wrong_org": WRONG_ORG,
}
MIB = 1024 * 1024
HTML_PAGE = (
    "<!doctype html><html><head><title>Zoho Accounts</title></head>"
    "<body><h1>Sign in to access Zoho</h1><p>Our servers are being upgraded.</p></body></html>"
)
DESK_INVALID_OAUTH = {
    "errorCode": "INVALID_OAUTH",
    "message": "The OAuth token is invalid or expired.",
}
DESK_RATE_LIMIT = {
    "errorCode": "TOO_MANY_REQUESTS",
    "message": "You have exceeded the number of API calls allowed in this time window.",
}


def blocking_response(request: SandboxRequest, fault: Fault, *, desk: bool) -> HttpResponseBase:
    """What a blocking fault answers instead of the endpoint."""
    params: dict[str, Any] = fault.params
    kind = fault.kind
    if kind in ("reset", "hang"):
        if kind == "hang":
            time.sleep(float(params.get("seconds", 30)))
        return drop_connection(request)
    if kind == "status":
        return _status(params)
    if kind == "malformed_json":
        body = '{"data": [{"id": 1' if desk else '{"access_token": "1000.'
        return HttpResponse(body, content_type="application/json")
    if kind == "html_200":
        return HttpResponse(HTML_PAGE, content_type="text/html; charset=utf-8")
    if kind in INJECTED_ERRORS:
        error = str(params.get("error", INJECTED_ERRORS[kind]))
        if desk:
            return JsonResponse({"errorCode": error, "message": "Injected error."})
        return JsonResponse({"error": error})
    if kind == "redirect":
        response = HttpResponse(status=int(params.get("status", 302)))
        response["Location"] = str(params["location"])
        return response
    if kind == "oversized":
        return _oversized(int(params["size"]))
    if kind == "gzip_bomb":
        return _gzip_bomb(int(params["size"]))
    if kind == "deep_json":
        depth = int(params["depth"])
        return HttpResponse(
            '{"data": ' + "[" * depth + "]" * depth + "}", content_type="application/json"
        )
    if kind == "rate_limit":
        if desk:
            return _desk_rate_limited(params)
        return JsonResponse(ACCESS_DENIED_BODY, status=int(params.get("status") or 200))
    if kind == "invalid_oauth":
        return JsonResponse(DESK_INVALID_OAUTH, status=401)
    raise ValueError(f"{kind} is not a blocking fault")


def _desk_rate_limited(params: dict[str, Any]) -> HttpResponseBase:
    response = JsonResponse(DESK_RATE_LIMIT, status=int(params.get("status") or 429))
    if params.get("retry_after") is not None:
        response["Retry-After"] = str(params["retry_after"])
        response["X-Rate-Limit-Remaining"] = "0"
    return response


def drop_connection(request: SandboxRequest) -> HttpResponseBase:
    """Close the client's connection without an answer.

    Works under Django's runserver / live server (the socket behind ``wsgi.input``) and under
    gunicorn (``gunicorn.socket``). Elsewhere (the test client, ASGI) the closest is an empty
    502, marked ``X-Sandbox-Fault: reset-unsupported``.
    """
    sock = _client_socket(request.META)  # under WSGI, META is the environ itself
    if sock is None:
        response = HttpResponse(status=502)
        response["X-Sandbox-Fault"] = "reset-unsupported"
        return response
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    request.sandbox_dropped = True
    return HttpResponse(status=204)  # written into a closed socket: the server shrugs


def dripped(response: HttpResponse, *, interval: float, chunk: int) -> StreamingHttpResponse:
    """The same answer, sent ``chunk`` bytes every ``interval`` seconds (bounded in time)."""
    body = response.content
    started = time.monotonic()

    def pieces() -> Iterator[bytes]:
        for start in range(0, len(body), chunk):
            if time.monotonic() - started > DRIP_LIMIT_SECONDS:
                yield body[start:]
                return
            yield body[start : start + chunk]
            time.sleep(interval)

    streaming = StreamingHttpResponse(pieces(), status=response.status_code)
    for name, value in response.items():
        if name.lower() != "content-length":
            streaming[name] = value
    return streaming


def _status(params: dict[str, Any]) -> HttpResponseBase:
    body = str(params.get("body", ""))
    content_type = str(params.get("content_type") or "")
    if not content_type:
        content_type = "application/json" if _is_json(body) else "text/plain; charset=utf-8"
    response = HttpResponse(body, status=int(params.get("status", 503)), content_type=content_type)
    if params.get("retry_after") is not None:
        response["Retry-After"] = str(params["retry_after"])
    return response


def _oversized(size: int) -> StreamingHttpResponse:
    head, tail = b'{"status": "success", "padding": "', b'"}'
    filler = max(size - len(head) - len(tail), 0)

    def pieces() -> Iterator[bytes]:
        yield head
        left = filler
        while left > 0:
            step = min(left, 64 * 1024)
            yield b"x" * step
            left -= step
        yield tail

    response = StreamingHttpResponse(pieces(), content_type="application/json")
    response["Content-Length"] = str(len(head) + filler + len(tail))
    return response


def _gzip_bomb(size: int) -> StreamingHttpResponse:
    """A JSON body of ``size`` bytes, gzip-compressed while it is sent (about 1 KB per MiB):
    a client that inflates it whole holds ``size`` bytes in memory."""
    head, tail = b'{"access_token": "1000.', b'", "token_type": "Bearer", "expires_in": 3600}'
    block = b"a" * MIB

    def pieces() -> Iterator[bytes]:
        compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        yield compressor.compress(head)
        left = max(size - len(head) - len(tail), 0)
        while left > 0:
            step = min(left, MIB)
            left -= step
            out = compressor.compress(block[:step])
            if out:
                yield out
        yield compressor.compress(tail) + compressor.flush()

    response = StreamingHttpResponse(pieces(), content_type="application/json")
    response["Content-Encoding"] = "gzip"
    return response


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _client_socket(environ: dict[str, Any]) -> socket.socket | None:
    sock = environ.get("gunicorn.socket")
    if isinstance(sock, socket.socket):
        return sock
    # runserver: wsgi.input is a LimitedStream over the handler's buffered socket reader.
    reader = getattr(getattr(environ.get("wsgi.input"), "_read", None), "__self__", None)
    raw = getattr(reader, "raw", None)
    sock = getattr(raw, "_sock", None)
    return sock if isinstance(sock, socket.socket) else None
