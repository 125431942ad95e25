"""A TLS-terminating reverse proxy in front of gunicorn, configured as deploy/runbook.md's nginx.

HTTPS in (a certificate from :func:`tests.tls_front.make_certificates`, made at test time),
plain HTTP out to the portal from a source address of its own, with the headers the runbook's
``location /`` block sets: ``Host`` as the browser sent it, ``X-Forwarded-For`` with the
browser's address appended (``$proxy_add_x_forwarded_for``), ``X-Forwarded-Proto: https`` and
a fresh ``X-Request-ID`` (``$request_id``: 32 hex digits). Hop-by-hop headers stay on their hop.
Each request is answered whole (no streaming), which is all the pages and the API need here.
"""

import secrets
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx2

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


class TlsProxy:
    """``with TlsProxy(upstream, cert, key, source="127.0.0.2") as proxy: proxy.url("/")``."""

    def __init__(self, upstream: str, cert_file: Path, key_file: Path, *, source: str) -> None:
        self.upstream = upstream
        self.request_ids: list[str] = []  # the X-Request-ID sent with each forwarded request
        # nginx speaks HTTP/1.0 upstream by default: one connection per request, none reused.
        self._client = httpx2.Client(
            transport=httpx2.HTTPTransport(local_address=source),
            limits=httpx2.Limits(max_keepalive_connections=0),
            timeout=60,  # the runbook's proxy_read_timeout
            follow_redirects=False,
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "") -> str:
        return f"https://localhost:{self.port}{path}"

    def __enter__(self) -> "TlsProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    def forward(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        headers = [
            (name, value)
            for name, value in handler.headers.items()
            if name.lower() not in HOP_BY_HOP and name.lower() != "x-request-id"
        ]
        earlier = handler.headers.get("X-Forwarded-For")
        client = handler.client_address[0]
        request_id = secrets.token_hex(16)
        self.request_ids.append(request_id)
        headers = [(n, v) for n, v in headers if n.lower() not in ("x-forwarded-for",)]
        headers += [
            ("X-Forwarded-For", f"{earlier}, {client}" if earlier else client),
            ("X-Forwarded-Proto", "https"),
            ("X-Request-ID", request_id),
        ]
        try:
            answer = self._client.request(
                handler.command, f"{self.upstream}{handler.path}", headers=headers, content=body
            )
        except httpx2.TransportError:
            handler.send_error(502, "Bad Gateway")
            return
        content = answer.content  # decoded: gzip is undone, so Content-Encoding goes too
        handler.send_response(answer.status_code)
        for name, value in answer.headers.multi_items():
            if name.lower() not in HOP_BY_HOP | {
                "content-length",
                "content-encoding",
                "date",
                "server",
            }:
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(content)


def _handler_for(proxy: TlsProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            proxy.forward(self)

        do_POST = do_HEAD = do_PUT = do_PATCH = do_DELETE = do_GET

        def log_message(self, format: str, *args: object) -> None:
            pass  # the portal's own access log is the one under test

    return Handler
