"""The Celery worker process: the ingest task and the reprocessing task (queue `cadenza-analysis`), with
this process's collaborators from the composition root. The ingest task takes a track id, runs one stage
through `pipeline.run_stage`, and returns; the chain (`ingest.queue.CeleryRunner`) moves the track to the
next stage. The reprocessing task calls `ingest.reprocess.reprocess_track`. No rules live here."""

from __future__ import annotations

import logging

from celery import Task

from cadenza.bootstrap import build_collaborators
from cadenza.config import get_settings
from cadenza.ingest import pipeline
from cadenza.ingest import reprocess as rp
from cadenza.ingest.queue import BULK_QUEUE, MAX_RETRIES, QUEUE, TASK_NAME, make_celery

log = logging.getLogger(__name__)

celery_app = make_celery()

_collaborators: pipeline.Collaborators | None = None


def _c() -> pipeline.Collaborators:
    global _collaborators
    if _collaborators is None:
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


@celery_app.task(name=rp.TASK_NAME, queue=rp.QUEUE)
def reprocess_task(track_id: int, only: list[str]) -> dict[str, object]:
    """The analyses a ready track is missing (`ingest.reprocess`), on the `cadenza-analysis` queue so a
    catalog-wide run never holds up new uploads."""
    outcome = rp.reprocess_track(_c(), track_id=track_id, only=rp.parse_only(",".join(only)))
    return {
        "track_id": outcome.track_id,
        "done": outcome.done,
        "skipped": outcome.skipped,
        "error": outcome.error,
    }


def main(concurrency: int, *, queues: str = f"{QUEUE},{BULK_QUEUE}") -> None:
    celery_app.worker_main(["worker", "--loglevel=INFO", f"--concurrency={concurrency}", "-Q", queues])
