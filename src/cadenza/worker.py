"""The Celery worker process: the ingest task and the reprocessing task (queue `cadenza-analysis`), with
this process's collaborators from the composition root. The ingest task takes a track id, runs one stage
through `pipeline.run_stage`, and returns; the chain (`ingest.queue.CeleryRunner`) moves the track to the
next stage. The reprocessing task calls `ingest.reprocess.reprocess_track`. No rules live here.

Celery beat (`cadenza beat`) schedules the maintenance tasks below on the light `cadenza-analysis` queue:
the rollup refresh, the leftovers clean-up and the stale-track reaper (docs/deployment.md)."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from celery import Task

from cadenza.bootstrap import build_collaborators
from cadenza.config import get_settings
from cadenza.db.engine import engine_of
from cadenza.ingest import pipeline, reaper
from cadenza.ingest import reprocess as rp
from cadenza.ingest.leftovers import clean_leftovers
from cadenza.ingest.queue import BULK_QUEUE, MAX_RETRIES, QUEUE, TASK_NAME, CeleryRunner, make_celery
from cadenza.royalties import rollups
from cadenza.royalties.rules import royalty_settings
from cadenza.telemetry import logs, metrics, queues
from cadenza.telemetry import tasks as task_telemetry

log = logging.getLogger(__name__)

celery_app = make_celery()
task_telemetry.connect()

ROLLUPS_TASK = "cadenza.maintenance.refresh_rollups"
CLEANUP_TASK = "cadenza.maintenance.clean_up"
REAPER_TASK = "cadenza.maintenance.requeue_stale"

_collaborators: pipeline.Collaborators | None = None


def _c() -> pipeline.Collaborators:
    global _collaborators
    if _collaborators is None:
        _collaborators = build_collaborators(get_settings())
    return _collaborators


@celery_app.task(bind=True, name=TASK_NAME, max_retries=MAX_RETRIES)
def run_stage_task(self: Task, track_id: int, stage: str) -> str | None:
    c = _c()
    started = time.perf_counter()
    try:
        nxt = pipeline.run_stage(c, track_id, stage)
    except Exception as exc:
        metrics.stage_seconds.labels(stage, "error").observe(time.perf_counter() - started)
        if self.request.retries >= MAX_RETRIES:
            pipeline.mark_failed(c, track_id, stage=stage, reason=f"internal error after retries: {exc}")
            return None
        log.warning("track %s: stage %s failed (%s); retrying", track_id, stage, exc)
        raise self.retry(exc=exc, countdown=min(2**self.request.retries, 60)) from exc
    metrics.stage_seconds.labels(stage, "ok").observe(time.perf_counter() - started)
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


@celery_app.task(name=ROLLUPS_TASK, queue=rp.QUEUE, ignore_result=True)
def refresh_rollups_task() -> None:
    """Fold new playback events into the daily rollups (the API servers leave this to beat in a
    cluster: CADENZA_ROYALTIES__REFRESH_INTERVAL_SEC=0 there)."""
    c = _c()
    rollups.refresh(engine_of(c.sessions), rules=royalty_settings(c.settings))


@celery_app.task(name=CLEANUP_TASK, queue=rp.QUEUE, ignore_result=True)
def clean_up_task() -> None:
    """Dead uploads' temp files and finished tracks' scratch directories on this worker's host."""
    clean_leftovers(_c())


@celery_app.task(name=REAPER_TASK, queue=rp.QUEUE, ignore_result=True)
def requeue_stale_task() -> list[int]:
    """Queue again the tracks whose task was lost (`ingest.reaper`), unless a backlog explains them."""
    c = _c()
    depths = queues.depths(c.settings.broker_url or "memory://", [QUEUE, BULK_QUEUE])
    # a bulk import's tracks wait in their own lane: work waiting in either queue explains them
    # (a bulk queue never declared holds nothing; an unknown ingest queue means the broker is not known)
    main_depth = depths.get(QUEUE)
    waiting = None if main_depth is None else main_depth + (depths.get(BULK_QUEUE) or 0)
    runner = CeleryRunner(celery_app)
    return reaper.requeue_stale(c, lambda tid, stage: runner.submit(tid, start=stage), waiting=waiting)


def beat_schedule() -> dict[str, dict[str, object]]:
    ops = get_settings().ops
    return {
        "refresh-rollups": {"task": ROLLUPS_TASK, "schedule": timedelta(seconds=ops.rollups_every_sec)},
        "clean-up": {"task": CLEANUP_TASK, "schedule": timedelta(seconds=ops.cleanup_every_sec)},
        "requeue-stale": {"task": REAPER_TASK, "schedule": timedelta(seconds=ops.reaper_every_sec)},
    }


def _configure_logs() -> None:
    settings = get_settings()
    if settings.ops.json_logs:
        logs.configure(json_logs=True)
        celery_app.conf.worker_hijack_root_logger = False


def main(concurrency: int, *, queues: str = f"{QUEUE},{BULK_QUEUE}", name: str | None = None) -> None:
    _configure_logs()
    argv = ["worker", "--loglevel=INFO", f"--concurrency={concurrency}", "-Q", queues]
    if name:
        argv.append(f"--hostname={name}@%h")
    celery_app.worker_main(argv)


def beat_main(schedule_file: str) -> None:
    """Celery beat with the maintenance schedule; run exactly one per cluster."""
    _configure_logs()
    celery_app.conf.beat_schedule = beat_schedule()
    celery_app.start(["beat", "--loglevel=INFO", f"--schedule={schedule_file}"])
