"""A local webhook receiver for tests: a thread that records each delivery and answers as told.

``Receiver(statuses=[500, 200])`` answers 500 to the first delivery and 200 to every later one;
``location`` adds a ``Location`` header (a redirect that must not be followed); ``delay``
waits before answering (a slow receiver). ``connections`` counts TCP connections accepted,
so a test can show that a refused delivery never reached the receiver at all.
"""

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    path: str


class Receiver:
    def __init__(
        self, *, statuses: list[int] | None = None, location: str = "", delay: float = 0.0
    ) -> None:
        self.received: list[Received] = []
        self.connections = 0
        self._statuses = list(statuses or [200])
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                outer.received.append(
                    Received({k.lower(): v for k, v in self.headers.items()}, body, self.path)
                )
                if delay:
                    time.sleep(delay)
                status = outer._statuses[min(len(outer.received), len(outer._statuses)) - 1]
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def verify_request(self, request: Any, client_address: Any) -> bool:
                outer.connections += 1
                return True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}/hooks/desk?via=test"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
