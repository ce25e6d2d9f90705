"""The stale-track reaper: queue again the tracks whose task was lost.

Celery redelivers most lost work by itself: `acks_late` + `reject_on_worker_lost` put back a task whose
pool process died, and RabbitMQ returns a dead worker's unacknowledged messages at once. What slips
through: a whole worker SIGKILLed on Redis (the message comes back only after the visibility timeout, an
hour), a broker restarted without persistence, a publish lost in a network split. Such a track sits in
`processing` forever.

The rule: a track still `processing` whose row has not changed for `stale_after` (by default twice the
stage timeout; every stage start touches the row) is stuck, *if nothing waits in the ingest queue*: a
backlog (a bulk import) is a reason to wait, not a loss, and is never duplicated. Stages are idempotent,
so a track that was only slow costs a re-run, never the track. The row is touched when it is queued
again, so the next run leaves it alone for another `stale_after`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select

from cadenza.catalog.models import Track, TrackStatus
from cadenza.db.base import utcnow
from cadenza.db.engine import transaction
from cadenza.ingest import pipeline
from cadenza.telemetry import metrics

log = logging.getLogger(__name__)


def requeue_stale(
    c: pipeline.Collaborators,
    submit: Callable[[int, str], object],
    *,
    waiting: int | None,
    now: datetime | None = None,
    limit: int = 500,
) -> list[int]:
    """Queue the stuck tracks again (from the stage each was in); returns their ids.

    `waiting`: tasks waiting in the ingest queue now (None: unknown, so nothing is reaped)."""
    if waiting is None or waiting > 0:
        return []
    now = now or utcnow()
    cutoff = now - timedelta(seconds=c.settings.stale_after_sec)
    with transaction(c.sessions) as s:
        stuck = list(
            s.scalars(
                select(Track)
                .where(Track.status == TrackStatus.processing, Track.updated_at < cutoff)
                .order_by(Track.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        picks = [(t.id, pipeline.resume_point(t)) for t in stuck]
        for t in stuck:
            t.updated_at = now
    for track_id, stage in picks:
        log.warning(
            "track %s: stuck in %s since before %s; queued again", track_id, stage, cutoff.isoformat()
        )
        submit(track_id, stage)
    metrics.stale_requeued.inc(len(picks))
    return [tid for tid, _ in picks]
