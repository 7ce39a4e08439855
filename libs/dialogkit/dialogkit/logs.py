"""Structured logs: one JSON object per line on stderr, with the active span's trace and span
ids and the event being handled (`event_id`, from `extra` or `handling_event`)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

import orjson
from opentelemetry import trace

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
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
        return orjson.dumps(entry, default=str).decode()


def configure_logging(service: str, level: str) -> None:
    """Send every log record of the process to stderr as JSON."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
