"""gunicorn's access log, told what the portal knows: the client's address and the request's id.

gunicorn writes an access line after the answer has gone, outside the request: its ``%(h)s`` is
the socket peer (behind a proxy, always the proxy) and no request id is bound any more.
:class:`AccessLogger` (``logger_class`` in deploy/gunicorn.conf.py) puts the client's address
there by the one rule (``accounts.client_address``: ``X-Forwarded-For`` only from a trusted
proxy) and logs the line under the id the portal answered with (its ``X-Request-ID``), so the
access line, the app's lines and the audit rows of one request share one id.
"""

from contextlib import nullcontext
from typing import Any

from gunicorn.glogging import Logger  # imports nothing of Django's: the master loads this too

from accounts import request_id
from accounts.client_address import client_address_of


class AccessLogger(Logger):  # type: ignore[misc]  # Logger is untyped (Any)
    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> Any:
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["h"] = client_address_of(environ) or atoms["h"]
        return atoms

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        rid = _answered_id(resp)
        with request_id.bound(rid) if rid else nullcontext():
            super().access(resp, req, environ, request_time)


def _answered_id(resp: Any) -> str:
    """The ``X-Request-ID`` the portal put on its answer ("" on an answer gunicorn made
    itself, such as a 400 for a request it could not parse)."""
    wanted = request_id.HEADER.lower()
    for name, value in getattr(resp, "headers", None) or []:
        if str(name).lower() == wanted:
            return str(value) if request_id.is_well_formed(str(value)) else ""
    return ""
