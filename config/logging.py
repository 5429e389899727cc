"""Logging: one JSON object a line in production, readable text on a developer's terminal.

Call SID and ticket number travel in context variables, so any log line written while a webhook
or job works on a call or ticket carries them without every caller passing them along.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

call_sid_var: ContextVar[str | None] = ContextVar("call_sid", default=None)
ticket_number_var: ContextVar[str | None] = ContextVar("ticket_number", default=None)
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

_CONTEXT_VARS = (
    ("call_sid", call_sid_var),
    ("ticket_number", ticket_number_var),
    ("request_id", request_id_var),
)
_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
)


class ContextFilter(logging.Filter):
    """Copies the current call SID, ticket number and request id onto every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _CONTEXT_VARS:
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, context, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and value is not None and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s%(context)s")

    def format(self, record: logging.LogRecord) -> str:
        parts = [f"{n}={getattr(record, n)}" for n, _ in _CONTEXT_VARS if getattr(record, n, None)]
        record.context = (" [" + " ".join(parts) + "]") if parts else ""
        return super().format(record)


def configure_logging(log_format: str, level: str) -> None:
    """Install one stderr handler on the root logger (idempotent: replaces ours if present)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    handler.set_name("hotline")
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == "hotline":
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())


@contextmanager
def log_context(*, call_sid: str | None = None, ticket_number: str | None = None) -> Iterator[None]:
    """Tag every log line written inside the block with a call SID and/or ticket number."""
    tokens = []
    if call_sid is not None:
        tokens.append((call_sid_var, call_sid_var.set(call_sid)))
    if ticket_number is not None:
        tokens.append((ticket_number_var, ticket_number_var.set(ticket_number)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
