"""Requests through ``portal.wsgi.application``, the object gunicorn and runserver serve.

Django's test client goes through its own ``ClientHandler`` (the full ``MIDDLEWARE``), never
through the dispatcher in ``portal/wsgi.py``; these calls do. The handlers send Django's
request signals, which close the connection after each request as in production, so tests
that use them run with ``transaction=True``.
"""

import json
from dataclasses import dataclass
from typing import Any
from wsgiref.types import WSGIApplication

from django.test import RequestFactory


@dataclass(frozen=True)
class Answer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        return ", ".join(values) if values else None

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    application: WSGIApplication,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: str = "",
    **environ: Any,
) -> Answer:
    """One request, built as Django's test tools build it, answered by ``application``."""
    request = RequestFactory().generic(
        method, path, data=body, content_type="application/json", headers=headers, **environ
    )
    seen: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], *_: Any) -> Any:
        seen["status"], seen["headers"] = status, response_headers

    chunks = application(request.environ, start_response)
    try:
        content = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()  # Django's request_finished: the connection upkeep production gets
    return Answer(int(seen["status"].split()[0]), tuple(seen["headers"]), content)
