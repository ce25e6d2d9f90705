"""Runs the pipeline without a broker: a small pool of threads in this process (the embedded default).

Unexpected errors are retried with backoff like Celery would; a StageError fails the track at once.
At start the runner picks up tracks left in `processing` by a previous run, so a crash loses nothing.

Two lanes: tracks submitted in the `interactive` lane (a listener's or an admin's single upload) are
taken before any waiting `bulk` track (`cadenza import`), so a 10,000-track import never makes a single
upload wait for it; within a lane, first come first served. A track already running is not interrupted."""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from sqlalchemy import select

from cadenza.catalog.models import Track, TrackStatus
from cadenza.ingest import pipeline

log = logging.getLogger(__name__)

LANES = {"interactive": 0, "bulk": 1}  # lower runs first


class InProcessRunner:
    def __init__(
        self,
        c: pipeline.Collaborators,
        *,
        workers: int,
        max_retries: int = 3,
        backoff: float = 1.0,
        run_stage: Callable[[pipeline.Collaborators, int, str], str | None] = pipeline.run_stage,
    ):
        self.c = c
        self.max_retries = max_retries
        self.backoff = backoff
        self._run_stage = run_stage
        self._queue: queue.PriorityQueue[tuple[int, int, int, str, Future[None]] | tuple[int, int]] = (
            queue.PriorityQueue()
        )
        self._order = itertools.count()
        self._futures: dict[int, Future[None]] = {}
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._work, name=f"cadenza-ingest-{i}", daemon=True)
            for i in range(workers)
        ]
        for t in self._threads:
            t.start()

    def submit(self, track_id: int, *, start: str = "validate", lane: str = "interactive") -> Future[None]:
        with self._lock:
            running = self._futures.get(track_id)
            if running is not None and not running.done():
                return running
            future: Future[None] = Future()
            self._futures[track_id] = future
            self._queue.put((LANES[lane], next(self._order), track_id, start, future))
            return future

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if len(job) == 2:  # shutdown
                return
            _, _, track_id, start, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                self._run(track_id, start)
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(None)

    def _run(self, track_id: int, start: str) -> None:
        stage: str | None = start
        attempt = 0
        while stage is not None:
            try:
                stage = self._run_stage(self.c, track_id, stage)
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
        if not wait:  # the tracks still waiting stay `processing`: the next start resumes them
            with self._lock:
                for future in self._futures.values():
                    future.cancel()
        for _ in self._threads:
            self._queue.put((2, next(self._order)))  # after every waiting track
        if wait:
            for t in self._threads:
                t.join()
