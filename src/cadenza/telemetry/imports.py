"""Progress of a bulk import (`cadenza import`) as Prometheus gauges: files done, failed, skipped,
processing and pending, the batch's size, and an ETA.

The figures are the batch's state in the database (ingest/bulk.py `tally`), not counts kept by this
process: an import killed and run again reports from where it stands. The ETA is this run's pace (files
finished per second since its first report) applied to the files left; before one has finished there is
no pace to go by, and the ETA is NaN rather than a guess."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from cadenza.telemetry import metrics

STATES = ("done", "failed", "skipped", "processing", "pending")


@dataclass(frozen=True)
class Figures:
    done: int
    failed: int
    skipped: int
    processing: int
    pending: int

    @property
    def total(self) -> int:
        return self.done + self.failed + self.skipped + self.processing + self.pending

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.skipped

    @property
    def left(self) -> int:
        return self.processing + self.pending


def eta_seconds(*, finished_since_start: int, elapsed: float, left: int) -> float:
    """Seconds until `left` more files finish at the pace so far; 0 with nothing left, NaN with no pace."""
    if left == 0:
        return 0.0
    if finished_since_start <= 0 or elapsed <= 0:
        return math.nan
    return left * elapsed / finished_since_start


class ImportProgress:
    """The gauges of one batch, updated by each `report` (the CLI reports on every tick)."""

    def __init__(self, batch: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._batch = batch
        self._clock = clock
        self._start: tuple[float, int] | None = None  # (time, files finished) at the first report
        self._children = {state: metrics.import_tracks.labels(batch, state) for state in STATES}
        self._planned = metrics.import_planned.labels(batch)
        self._eta = metrics.import_eta.labels(batch)

    def report(self, figures: Figures) -> float:
        """Publish `figures`; returns the ETA published."""
        now = self._clock()
        if self._start is None:
            self._start = (now, figures.finished)
        self._planned.set(figures.total)
        for state in STATES:
            self._children[state].set(getattr(figures, state))
        started_at, finished_then = self._start
        eta = eta_seconds(
            finished_since_start=figures.finished - finished_then, elapsed=now - started_at, left=figures.left
        )
        self._eta.set(eta)
        return eta
