"""Structured logs: one JSON object per line, with the request id of the request (or task) being served.

The id comes from the client's `X-Request-ID` when it is a sane token (nginx's `$request_id`, a load
balancer's), else a new one; the HTTP edge sets it (`web.observability`), Celery carries it in the task
headers (`telemetry.tasks`), so a track's upload and every stage of its processing share one id in the
logs of every process."""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import time
from contextvars import ContextVar
from typing import Any

request_id: ContextVar[str | None] = ContextVar("cadenza_request_id", default=None)

_SANE = re.compile(r"[A-Za-z0-9._:-]{8,128}")
# LogRecord attributes that are the record's own, not extras passed with `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _reseed() -> None:
    global _prefix, _serial
    _prefix, _serial = os.urandom(8).hex(), itertools.count()


_prefix: str
_serial: itertools.count[int]
_reseed()
os.register_at_fork(after_in_child=_reseed)  # a forked worker must not repeat its parent's ids


def new_request_id() -> str:
    """32 hex digits: 16 random ones per process, then a serial number. A request id must be unique,
    not secret (a client may send its own); one os.urandom per request was once most of this layer's
    cost on the stream route (≈100 µs per call on some virtual machines), and a UUID object per request
    (buffered randomness, then `uuid.UUID` and `.hex`) was still a quarter of its Python calls."""
    return f"{_prefix}{next(_serial) & 0xFFFF_FFFF_FFFF_FFFF:016x}"


def accept_request_id(value: str | None) -> str:
    """The caller's id if it is a sane token (it ends up in logs and task headers), else a new one."""
    return value if value and _SANE.fullmatch(value) else new_request_id()


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "msg", "request_id", ...extras, "exc"}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id.get()
        if rid:
            out["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value if isinstance(value, str | int | float | bool | None) else repr(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def configure(*, json_logs: bool, level: str = "INFO") -> None:
    """Route the root logger to stderr, as JSON lines or as plain text (a developer's terminal)."""
    handler = logging.StreamHandler()
    if json_logs:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level.upper())
