"""The stale-track reaper (ingest/reaper.py) on both databases: a track whose task was lost is queued
again from the stage it was in, once per `stale_after`; a backlog in the queue is never taken for a loss."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from cadenza.bootstrap import build_collaborators
from cadenza.catalog.models import Track, TrackStatus
from cadenza.db.base import utcnow
from cadenza.db.engine import transaction
from cadenza.ingest import pipeline, reaper
from conftest import make_settings


@pytest.fixture
def c(engine: Engine, db: tuple[Engine, str], tmp_path: Path) -> pipeline.Collaborators:
    settings = make_settings(tmp_path, db[1], ops={"stale_after_sec": 60})
    return build_collaborators(settings, engine=engine, run_migrations=False)


def _track(c: pipeline.Collaborators, *, status: TrackStatus, stage: str | None, age_sec: float) -> int:
    with transaction(c.sessions) as s:
        t = Track(title="t", status=status, stage=stage)
        s.add(t)
        s.flush()
        tid = t.id
    with transaction(c.sessions) as s:  # set after the insert: onupdate would overwrite it otherwise
        s.execute(
            update(Track).where(Track.id == tid).values(updated_at=utcnow() - timedelta(seconds=age_sec))
        )
    return tid


def test_a_track_untouched_past_stale_after_is_queued_again_from_its_stage(c: pipeline.Collaborators) -> None:
    lost = _track(c, status=TrackStatus.processing, stage="transcode", age_sec=120)
    busy = _track(c, status=TrackStatus.processing, stage="transcode", age_sec=10)
    _track(c, status=TrackStatus.ready, stage="done", age_sec=3600)
    _track(c, status=TrackStatus.failed, stage="validate", age_sec=3600)
    queued: list[tuple[int, str]] = []
    assert reaper.requeue_stale(c, lambda tid, stage: queued.append((tid, stage)), waiting=0) == [lost]
    assert queued == [(lost, "transcode")]
    # Touched when queued again: the next run leaves it to the task it was just given.
    assert reaper.requeue_stale(c, lambda tid, stage: queued.append((tid, stage)), waiting=0) == []
    assert busy not in [t for t, _ in queued]


def test_a_backlog_or_an_unknown_queue_depth_reaps_nothing(c: pipeline.Collaborators) -> None:
    _track(c, status=TrackStatus.processing, stage=None, age_sec=3600)
    queued: list[tuple[int, str]] = []
    assert reaper.requeue_stale(c, lambda tid, stage: queued.append((tid, stage)), waiting=250) == []
    assert reaper.requeue_stale(c, lambda tid, stage: queued.append((tid, stage)), waiting=None) == []
    assert queued == []
    assert reaper.requeue_stale(c, lambda tid, stage: queued.append((tid, stage)), waiting=0) != []
    assert queued[0][1] == "validate"  # never started: from the beginning
