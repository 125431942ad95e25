"""The id of the request (or of the job it queued) that the current code runs for.

One id follows one piece of work: the web request binds it (``portal.observe.middleware``), the
audit rows written meanwhile keep it (``accounts.audit.record_event``), the jobs the request
queues carry it as their ``request_id`` argument (:func:`tagged`), and the worker binds it again
while it runs such a job (:func:`bind_for_job`), so every log line of both carries the same id.

It lives here, below everything that uses it, because the audit log and the outbox are in
``accounts`` and ``accounts`` imports nothing of ``portal``. An id is never a secret: it is
either a random hex string made here or a short, plain header value a trusted proxy sent.
"""

import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from procrastinate.types import JSONValue

HEADER = "X-Request-ID"  # sent by a trusted proxy, echoed on every answer

JOB_ARGUMENT = "request_id"
MAX_LENGTH = 64
# Letters, digits and the separators common request ids use (UUIDs, ULIDs, AWS trace ids).
_SHAPE = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._:-]{{0,{MAX_LENGTH - 1}}}")

_current: ContextVar[str] = ContextVar("request_id", default="")


def current() -> str:
    """The bound id, or "" outside any request or request-born job."""
    return _current.get()


def generate() -> str:
    """A fresh id: 32 hex digits (128 random bits)."""
    return secrets.token_hex(16)


def is_well_formed(value: str) -> bool:
    """Whether a received id may be kept: at most 64 plain characters, nothing else."""
    return _SHAPE.fullmatch(value) is not None


@contextmanager
def bound(request_id: str) -> Iterator[str]:
    """Bind ``request_id`` for the code inside the block (this thread or task only)."""
    token = _current.set(request_id)
    try:
        yield request_id
    finally:
        _current.reset(token)


def tagged(**task_kwargs: JSONValue) -> dict[str, JSONValue]:
    """A job's arguments with the bound request id added, for every job a request queues.

    Outside a request the arguments are returned as they are, so periodic and command-line
    jobs look as before.
    """
    if request_id := current():
        return {**task_kwargs, JOB_ARGUMENT: request_id}
    return task_kwargs


def bind_for_job(call_next: Callable[[], Any], context: Any, worker: Any) -> Any:
    """Procrastinate task middleware: run a job under the request id it carries.

    The argument is taken off while the task runs (tasks do not declare it) and put back
    afterwards, so the worker's own log lines of the job still show it.
    """
    kwargs = context.job.task_kwargs
    if JOB_ARGUMENT not in kwargs:
        return call_next()
    request_id = kwargs.pop(JOB_ARGUMENT)
    kept = request_id if isinstance(request_id, str) and is_well_formed(request_id) else ""
    try:
        with bound(kept):
            return call_next()
    finally:
        kwargs[JOB_ARGUMENT] = request_id
