"""Accepting an upload: store the original, create the track, queue the pipeline. Deleting a track: the
catalog's change, then its stored objects."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, cast

from sqlalchemy.orm import Session

from cadenza.catalog import service as catalog
from cadenza.catalog.models import Track
from cadenza.catalog.service import TrackMetadata
from cadenza.checksums import sha256_file
from cadenza.db.base import utcnow
from cadenza.db.engine import transaction
from cadenza.ingest import orphans, pipeline
from cadenza.ingest.metadata import read_tags
from cadenza.protection import service as protection
from cadenza.rights.service import TrackCache


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


def delete_track(c: pipeline.Collaborators, *, track_id: int, caches: TrackCache) -> int:
    """Delete a track (`catalog.service.delete_track`: what goes and what stays is said there) in one
    transaction, then remove its objects from the store (`orphans.purge_track`); returns how many.

    Never half-done in the database: the catalog change commits whole or not at all. The store is
    cleaned after the commit (a store cannot join the transaction): if that fails part-way, the track
    is deleted and some of its objects are left, unreferenced; calling this again removes them (a
    deleted track is deleted again without change), as does `cadenza storage gc`."""
    with transaction(c.sessions) as s:
        catalog.delete_track(s, track_id=track_id, caches=caches, at=utcnow())
        protection.forget_keys(s, track_id=track_id)  # a protected track's keys go with its media
    return orphans.purge_track(c.store, c.sessions, track_id=track_id)
