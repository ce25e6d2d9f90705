"""Runs the pipeline without a broker: a small thread pool in this process (the embedded default).

Unexpected errors are retried with backoff like Celery would; a StageError fails the track at once.
At start the runner picks up tracks left in `processing` by a previous run, so a crash loses nothing."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy import select

from cadenza.catalog.models import Track, TrackStatus
from cadenza.ingest import pipeline

log = logging.getLogger(__name__)


class InProcessRunner:
    def __init__(
        self, c: pipeline.Collaborators, *, workers: int, max_retries: int = 3, backoff: float = 1.0
    ):
        self.c = c
        self.max_retries = max_retries
        self.backoff = backoff
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cadenza-ingest")
        self._futures: dict[int, Future[None]] = {}
        self._lock = threading.Lock()

    def submit(self, track_id: int, *, start: str = "validate") -> Future[None]:
        with self._lock:
            running = self._futures.get(track_id)
            if running is not None and not running.done():
                return running
            future = self._pool.submit(self._run, track_id, start)
            self._futures[track_id] = future
            return future

    def _run(self, track_id: int, start: str) -> None:
        stage: str | None = start
        attempt = 0
        while stage is not None:
            try:
                stage = pipeline.run_stage(self.c, track_id, stage)
                attempt = 0
            except Exception as exc:
                attempt += 1
                if attempt > self.max_retries:
                    log.exception("track %s: stage %s failed after %d attempts", track_id, stage, attempt)
                    pipeline.mark_failed(
                        self.c,
                        track_id,
                        stage=stage,
                        reason=f"internal error after {attempt} attempts: {exc}",
                    )
                    return
                log.warning(
                    "track %s: stage %s attempt %d failed (%s); retrying", track_id, stage, attempt, exc
                )
                time.sleep(self.backoff * 2 ** (attempt - 1))

    def resume_interrupted(self) -> int:
        """Queue every track still marked processing (the process died while working on it)."""
        with self.c.sessions() as s:
            tracks = list(s.scalars(select(Track).where(Track.status == TrackStatus.processing)))
        for t in tracks:
            self.submit(t.id, start=pipeline.resume_point(t))
        return len(tracks)

    def wait(self, track_id: int, timeout: float | None = None) -> None:
        with self._lock:
            future = self._futures.get(track_id)
        if future is not None:
            future.result(timeout=timeout)

    def shutdown(self, *, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
