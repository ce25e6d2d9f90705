"""Celery entry points: each task takes a track id, runs one stage through `pipeline.run_stage`, and
returns; the chain moves the track to the next stage. No rules live here.

Delivery guarantees: `acks_late` + `reject_on_worker_lost` put a task back on the queue when the worker
running it dies, and every stage is idempotent, so a killed worker costs a re-run, never the track."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, Task, chain

from cadenza.config import get_settings
from cadenza.ingest import pipeline

log = logging.getLogger(__name__)

MAX_RETRIES = 5
TASK_NAME = "cadenza.ingest.run_stage"


def make_celery(broker_url: str | None = None) -> Celery:
    settings = get_settings()
    app = Celery("cadenza", broker=broker_url or settings.broker_url or "memory://")
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue="cadenza-ingest",
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        # A task whose worker vanished without a trace is redelivered after this (Redis, SQS).
        broker_transport_options={"visibility_timeout": 3600},
        task_serializer="json",
        accept_content=["json"],
    )
    return app


celery_app = make_celery()

_collaborators: pipeline.Collaborators | None = None


def _c() -> pipeline.Collaborators:
    global _collaborators
    if _collaborators is None:
        from cadenza.bootstrap import build_collaborators

        _collaborators = build_collaborators(get_settings())
    return _collaborators


@celery_app.task(bind=True, name=TASK_NAME, max_retries=MAX_RETRIES)
def run_stage_task(self: Task, track_id: int, stage: str) -> str | None:
    c = _c()
    try:
        nxt = pipeline.run_stage(c, track_id, stage)
    except Exception as exc:
        if self.request.retries >= MAX_RETRIES:
            pipeline.mark_failed(c, track_id, stage=stage, reason=f"internal error after retries: {exc}")
            return None
        log.warning("track %s: stage %s failed (%s); retrying", track_id, stage, exc)
        raise self.retry(exc=exc, countdown=min(2**self.request.retries, 60)) from exc
    return nxt


class CeleryRunner:
    """Queues a track's stages as one Celery chain; a stage that failed the track makes the rest no-ops."""

    def __init__(self, app: Celery = celery_app) -> None:
        self.app = app

    def submit(self, track_id: int, *, start: str = "validate") -> Any:
        stages = pipeline.STAGES[pipeline.STAGES.index(start) :]
        sigs = [self.app.signature(TASK_NAME, args=(track_id, stage), immutable=True) for stage in stages]
        return chain(*sigs).apply_async()

    def resume_interrupted(self) -> int:
        return 0  # the broker keeps unacknowledged tasks; nothing to do at start

    def shutdown(self, *, wait: bool = True) -> None:
        return None
