"""A mail server in a thread of the test, which can hang.

While held (``FakeSMTP(hanging=True)``) it accepts each connection and says nothing, as a hung
mail server does: the client waits for the greeting. Once :meth:`release` is called, every
connection, held or new, is greeted and served just enough SMTP (EHLO, MAIL, RCPT, DATA,
QUIT) for Django's SMTP backend to hand over its messages, which it keeps. Recipients named in
``refuse`` are refused at RCPT (550), as a server that knows no such mailbox does.
"""

import socket
import threading
from email import message_from_bytes
from email.message import Message
from io import BufferedReader
from types import TracebackType
from typing import Self

WAIT = 60.0  # seconds any wait here gives a slow, shared machine


class FakeSMTP:
    def __init__(self, *, hanging: bool, refuse: tuple[str, ...] = ()) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self.connections = 0
        self.connected = threading.Event()  # set at the first connection
        self.received = threading.Event()  # set at the first message
        self.messages: list[Message] = []
        self._released = threading.Event()
        self._closing = False
        self._refuse = [address.encode() for address in refuse]  # RCPT answered 550
        if not hanging:
            self._released.set()
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing = True
        self._released.set()
        self._server.close()

    def settings(self, *, timeout: float = WAIT) -> dict[str, dict[str, object]]:
        """``MAILERS`` pointing Django's SMTP backend at this server."""
        options = {"host": "127.0.0.1", "port": self.port, "timeout": timeout}
        return {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": options,
            }
        }

    def release(self) -> None:
        """Stop hanging: greet the waiting connections and every later one."""
        self._released.set()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:  # closed
                return
            self.connections += 1
            self.connected.set()
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as lines:
            self._released.wait()
            if self._closing:
                return
            try:
                self._converse(conn, lines)
            except OSError:  # the client went away (a killed worker)
                return

    def _converse(self, conn: socket.socket, lines: BufferedReader) -> None:
        conn.sendall(b"220 fake ESMTP\r\n")
        for line in lines:
            verb = line[:4].upper()
            if verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            if verb == b"RCPT" and any(address in line for address in self._refuse):
                conn.sendall(b"550 5.1.1 no such mailbox\r\n")
                continue
            if verb != b"DATA":
                conn.sendall(b"250 fake\r\n")
                continue
            conn.sendall(b"354 go on\r\n")
            data = []
            while (line := lines.readline()) not in (b".\r\n", b""):
                data.append(line[1:] if line.startswith(b"..") else line)
            self.messages.append(message_from_bytes(b"".join(data)))
            self.received.set()
            conn.sendall(b"250 queued\r\n")
