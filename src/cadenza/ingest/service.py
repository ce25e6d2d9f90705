"""Accepting an upload: store the original, create the track, queue the pipeline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, cast

from sqlalchemy.orm import Session

from cadenza.catalog import service as catalog
from cadenza.catalog.models import Track
from cadenza.catalog.service import TrackMetadata
from cadenza.checksums import sha256_file
from cadenza.db.engine import transaction
from cadenza.ingest import pipeline
from cadenza.ingest.metadata import read_tags


class Submitter(Protocol):
    def submit(self, track_id: int, *, start: str = "validate") -> object: ...


class LaneSubmitter(Protocol):
    """A runner with priority lanes (in-process and Celery): `interactive` before `bulk`."""

    def submit(self, track_id: int, *, start: str = "validate", lane: str = "interactive") -> object: ...


def accept_upload(
    c: pipeline.Collaborators,
    runner: Submitter,
    *,
    path: Path,
    filename: str | None,
    overrides: TrackMetadata | None = None,
    checksum: str | None = None,
    disposable: bool = False,
    lane: str = "interactive",
    within: Callable[[Session, Track], None] | None = None,
) -> Track:
    """Create a `processing` track for the file at `path` (which is copied into the store) and queue it.

    Metadata: tags from the file, overridden by `overrides`; the title falls back to the file name.
    Invalid metadata raises InvalidInput before anything is stored. `disposable`: the caller deletes
    `path` afterwards (an upload's temp file), so the store may take it without copying. `lane`: `bulk`
    for an import (queued behind single uploads; the runner must take lanes). `within` runs inside the
    transaction that creates the track (a bulk import records the file as imported there, atomically)."""
    stem = Path(filename).stem if filename else None
    meta = read_tags(path, fallback_title=stem or "Untitled").merged(overrides or TrackMetadata())
    size = path.stat().st_size
    checksum = checksum or sha256_file(path)
    suffix = Path(filename).suffix if filename else ""
    stored: str | None = None
    try:
        with transaction(c.sessions) as s:
            track = catalog.create_track(
                s, meta=meta, source_filename=filename, source_checksum=checksum, source_size=size
            )
            stored = pipeline.source_key(track.id, checksum, suffix)
            c.store.put_file(stored, path, disposable=disposable)
            track.source_key = stored
            if within is not None:
                within(s, track)
    except BaseException:
        if stored:
            c.store.delete(stored)
        raise
    if lane == "interactive":
        runner.submit(track.id)
    else:
        cast(LaneSubmitter, runner).submit(track.id, lane=lane)
    return track
