"""The ingest queue on Celery: the app's settings and the runner that queues a track's stages as a chain.
The task itself (`cadenza.worker`) runs one stage through `pipeline.run_stage`; a process that only
queues (the API) needs no collaborators, and this module imports nothing from the composition root.

Delivery guarantees: `acks_late` + `reject_on_worker_lost` put a task back on the queue when the worker
running it dies, and every stage is idempotent, so a killed worker costs a re-run, never the track."""

from __future__ import annotations

from typing import Any

from celery import Celery, chain

from cadenza.config import get_settings
from cadenza.ingest import pipeline

MAX_RETRIES = 5
TASK_NAME = "cadenza.ingest.run_stage"
QUEUE = "cadenza-ingest"
# Bulk imports (`cadenza import`) go to their own queue, so single uploads never wait behind a label's
# 10,000 tracks: give the interactive queue workers of its own (`cadenza worker --queues cadenza-ingest`),
# or let workers take both (the default: Celery takes from each queue in turn, so a single upload waits
# for at most one bulk task per worker, not for the backlog).
BULK_QUEUE = "cadenza-ingest-bulk"


def make_celery(broker_url: str | None = None) -> Celery:
    settings = get_settings()
    app = Celery("cadenza", broker=broker_url or settings.broker_url or "memory://")
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=QUEUE,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        # A task whose worker vanished without a trace is redelivered after this (Redis, SQS).
        broker_transport_options={"visibility_timeout": 3600},
        task_serializer="json",
        accept_content=["json"],
    )
    return app


class CeleryRunner:
    """Queues a track's stages as one Celery chain; a stage that failed the track makes the rest no-ops."""

    def __init__(self, app: Celery | None = None, *, bulk_queue: str = BULK_QUEUE) -> None:
        self.app = app or make_celery()
        self.bulk_queue = bulk_queue

    def submit(self, track_id: int, *, start: str = "validate", lane: str = "interactive") -> Any:
        stages = pipeline.STAGES[pipeline.STAGES.index(start) :]
        queue = self.bulk_queue if lane == "bulk" else QUEUE
        sigs = [
            self.app.signature(TASK_NAME, args=(track_id, stage), immutable=True, queue=queue)
            for stage in stages
        ]
        return chain(*sigs).apply_async()

    def resume_interrupted(self) -> int:
        return 0  # the broker keeps unacknowledged tasks; nothing to do at start

    def shutdown(self, *, wait: bool = True) -> None:
        return None
