"""The request id across the queue: a task published while serving a request carries the request's id
in its Celery headers, and the worker runs the task with that id in its log context. Connected once by
each process that publishes or runs tasks (`connect()`), through Celery's signals, so the runner and the
tasks themselves stay as they are."""

from __future__ import annotations

from typing import Any

from celery import signals

from cadenza.telemetry import logs

HEADER = "cadenza_request_id"
_connected = False


def _on_publish(headers: dict[str, Any] | None = None, **_: Any) -> None:
    rid = logs.request_id.get()
    if headers is not None and rid and HEADER not in headers:
        headers[HEADER] = rid


def _on_prerun(task: Any = None, **_: Any) -> None:
    rid = getattr(task.request, HEADER, None) if task is not None else None
    if rid is None and task is not None:
        rid = (getattr(task.request, "headers", None) or {}).get(HEADER)
    logs.request_id.set(logs.accept_request_id(rid if isinstance(rid, str) else None))


def _on_postrun(**_: Any) -> None:
    logs.request_id.set(None)


def connect() -> None:
    global _connected
    if _connected:
        return
    signals.before_task_publish.connect(_on_publish, weak=False)
    signals.task_prerun.connect(_on_prerun, weak=False)
    signals.task_postrun.connect(_on_postrun, weak=False)
    _connected = True
