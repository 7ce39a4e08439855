"""Structured logs: one JSON object per line on stderr, with the active span's trace and span
ids and the event being handled (`event_id`, from `extra` or `handling_event`).

No personal data is logged: code logs ids, counts and error types, never values; and every line
is redacted as it is written (`redact`), for what libraries and error texts carry: the query of
a URL (an HTTP client logs `?phone=...` of a contact-point search), the `input_value` of a
pydantic validation error (the value refused, quoted in its text) and any email address; the
Kafka clients' DEBUG records, which quote records as they go over the wire, are not written.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TextIO

import orjson
from opentelemetry import trace

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
REDACTED = "[redacted]"
_PERSONAL = (
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s?#\"'\\]*)\?[^\s#\"'\\]*", re.I), rf"\1?{REDACTED}"),
    (re.compile(r"input_value=.*?, input_type=", re.S), f"input_value={REDACTED}, input_type="),
    (re.compile(r"[\w.%+-]+(@|%40)[a-z0-9-]+(\.[a-z0-9-]+)+", re.I), REDACTED),
)
_event_id: ContextVar[str | None] = ContextVar("event_id", default=None)


@contextmanager
def handling_event(event_id: object) -> Iterator[None]:
    """Every log record written inside the block names this event id."""
    token = _event_id.set(str(event_id))
    try:
        yield
    finally:
        _event_id.reset(token)


def correlation() -> dict[str, str]:
    """The ids a log line carries: trace and span of the active span, and the event handled."""
    ids: dict[str, str] = {}
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        ids["trace_id"] = format(span_context.trace_id, "032x")
        ids["span_id"] = format(span_context.span_id, "016x")
    if (event_id := _event_id.get()) is not None:
        ids["event_id"] = event_id
    return ids


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "message": record.getMessage(),
            **correlation(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(orjson.dumps(entry, default=str).decode())


def redact(line: str) -> str:
    """The line without URL queries, values quoted by validation errors and email addresses."""
    for pattern, replacement in _PERSONAL:
        line = pattern.sub(replacement, line)
    return line


WIRE_LOGGERS = ("aiokafka", "kafka")
"""Client libraries whose DEBUG records quote what goes over the wire: records' keys and values
(ingress records and dead letters hold personal data in clear). Their DEBUG is never written."""


def without_wire_payloads(record: logging.LogRecord) -> bool:
    """False for a DEBUG record of a client library that quotes wire payloads."""
    return record.levelno > logging.DEBUG or not record.name.startswith(WIRE_LOGGERS)


def log_handler(service: str, stream: TextIO | None = None) -> logging.Handler:
    """The handler every process writes its logs with: JSON lines, redacted, without wire
    payloads; to stderr unless another stream is given."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    handler.addFilter(without_wire_payloads)
    return handler


def configure_logging(service: str, level: str) -> None:
    """Send every log record of the process to stderr as JSON."""
    root = logging.getLogger()
    root.handlers[:] = [log_handler(service)]
    root.setLevel(level)
