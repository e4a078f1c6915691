"""Logging: JSON lines when not on a terminal (for collectors), readable lines on a terminal.

Every line written while the API handles a request carries its `request_id` (the caller's
`X-Request-ID` or one the API made): the API sets `request_id` (a contextvar, which follows the
request into the thread pool) and `RequestIdFilter` on the handler copies it into each record.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from typing import Any

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_OWN = frozenset({"ts", "level", "logger", "msg", "exc"})  # the fields every JSON line has

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to records logged while a request is handled (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = request_id.get()
        if rid is not None and not hasattr(record, "request_id"):
            record.request_id = rid
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for k, v in record.__dict__.items():
            if k not in _STANDARD:
                # An extra named like a line's own field (a decision's `level`, say) must not
                # replace it: log collectors file lines by these; it is kept under `extra_<name>`.
                out[f"extra_{k}" if k in _OWN else k] = v
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extra = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        tail = " ".join(f"{k}={v}" for k, v in extra.items())
        return (
            f"{time.strftime('%H:%M:%S')} {record.levelname.lower():7} {record.name}: {record.getMessage()}"
            + (f"  {tail}" if tail else "")
        )


def configure_logging(level: str = "INFO", json_lines: bool | None = None) -> None:
    use_json = (not sys.stderr.isatty()) if json_lines is None else json_lines
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("urllib3", "web3", "alembic", "sqlalchemy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
