"""Log lines as JSON objects (``LOG_FORMAT=json``), each with the request's id.

:class:`RequestIdFilter` puts the bound request id on every record, in text and JSON alike;
a Procrastinate worker's own lines about a job (started, succeeded, failed) carry the job in
their ``extra``, and the id is read from its arguments there. :class:`JsonFormatter` writes one
object per line. Redaction runs before either (``portal.log_filters``): the handler's filters
see the record first, and the formatter only reads the message the filter left.
"""

import json
import logging
from datetime import UTC, datetime
from typing import Any

from accounts import request_id

# The filters and formatters every log handler of the portal uses (Django's LOGGING in
# portal/settings.py, gunicorn's own lines in deploy/gunicorn.conf.py): redaction first, then the
# request id, then text or JSON as LOG_FORMAT says. Plain data: neither side needs Django here.
LOG_FILTERS: dict[str, dict[str, str]] = {
    "redact_secrets": {"()": "portal.log_filters.RedactSecretsFilter"},
    "request_id": {"()": "portal.observe.json_logs.RequestIdFilter"},
}
LOG_FORMATTERS: dict[str, dict[str, str]] = {
    "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    "json": {"()": "portal.observe.json_logs.JsonFormatter"},
}


class RequestIdFilter(logging.Filter):
    """Give every record a ``request_id`` attribute ("" when there is none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.current() or _job_request_id(record)
        return True


def _job_request_id(record: logging.LogRecord) -> str:
    job = getattr(record, "job", None)
    if not isinstance(job, dict):
        return ""
    kwargs = job.get("task_kwargs")
    value = kwargs.get(request_id.JOB_ARGUMENT, "") if isinstance(kwargs, dict) else ""
    return value if isinstance(value, str) and request_id.is_well_formed(value) else ""


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id,
    and the exception's traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", ""),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
