"""Duplicate detection: store a track's fingerprint, index its keys, find an earlier track it copies."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.orm import Session

from cadenza.catalog.models import FingerprintKey, Track, TrackStatus
from cadenza.errors import NotFound
from cadenza.ingest import fingerprint as fp

__all__ = ["DuplicateMatch", "find_duplicate", "flag_duplicate", "index_fingerprint"]

# A candidate must share this share of the query's keys (and at least _MIN_HITS): measured copies
# share 18-100 % (EQ'd or half-an-item-shifted copies being the low end), different tunes 0-2 %.
_MIN_HIT_FRACTION = 0.05
_MIN_HITS = 3


@dataclass(frozen=True, slots=True)
class DuplicateMatch:
    """An earlier track this one duplicates; offset_sec > 0 means this one starts that far into it."""

    track_id: int
    score: float
    offset_sec: float


def index_fingerprint(session: Session, *, track_id: int, fingerprint: np.ndarray) -> None:
    """Store the track's fingerprint and replace its index keys (running it twice gives the same rows)."""
    track = _track(session, track_id)
    track.fingerprint = fp.to_bytes(fingerprint)
    session.execute(delete(FingerprintKey).where(FingerprintKey.track_id == track_id))
    keys = fp.index_keys(fingerprint)
    if keys:
        session.execute(insert(FingerprintKey), [{"key": k, "track_id": track_id} for k in keys])
    session.flush()


def _matches(
    session: Session,
    *,
    track_id: int,
    fingerprint: np.ndarray,
    threshold: float,
    later: bool,
    max_candidates: int,
) -> list[DuplicateMatch]:
    """Indexed candidates (earlier or later ids, not failed) that score at least `threshold`, by id."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    keys = fp.index_keys(fingerprint)
    if not keys:
        return []
    # Keys are capped at fp.KEY_ITEMS (960), so one IN list stays under every SQLite's variable limit.
    min_hits = max(_MIN_HITS, math.ceil(_MIN_HIT_FRACTION * len(keys)))
    hits = func.count().label("hits")
    side = FingerprintKey.track_id > track_id if later else FingerprintKey.track_id < track_id
    query = (
        select(FingerprintKey.track_id, hits)
        .join(Track, Track.id == FingerprintKey.track_id)
        .where(
            FingerprintKey.key.in_(keys),
            side,
            Track.status != TrackStatus.failed,
            Track.fingerprint.is_not(None),
        )
        .group_by(FingerprintKey.track_id)
        .having(func.count() >= min_hits)
        .order_by(hits.desc(), FingerprintKey.track_id)
        .limit(max_candidates)
    )
    candidates = [row.track_id for row in session.execute(query)]
    if not candidates:
        return []
    stored = session.execute(select(Track.id, Track.fingerprint).where(Track.id.in_(candidates)))
    found: list[DuplicateMatch] = []
    for cand_id, blob in sorted(stored, key=lambda row: row.id):
        match = fp.compare(fp.from_bytes(blob), fingerprint)
        if match.score >= threshold:
            found.append(DuplicateMatch(track_id=cand_id, score=match.score, offset_sec=match.offset_sec))
    return found


def find_duplicate(
    session: Session,
    *,
    track_id: int,
    fingerprint: np.ndarray,
    threshold: float,
    max_candidates: int = 10,
) -> DuplicateMatch | None:
    """The best-scoring earlier, non-failed track at or above `threshold` (ties: lowest id), or None."""
    found = _matches(
        session,
        track_id=track_id,
        fingerprint=fingerprint,
        threshold=threshold,
        later=False,
        max_candidates=max_candidates,
    )
    best: DuplicateMatch | None = None
    for match in found:  # ascending ids and a strict comparison: an equal score keeps the lower id
        if best is None or match.score > best.score:
            best = match
    return best


def _serialize(session: Session) -> None:
    """Let one fingerprint stage at a time look and write, so two copies processed at once still meet."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(7301)"))
    else:
        # Any write takes SQLite's single write lock before we read, for the rest of the transaction.
        session.execute(text("UPDATE tracks SET id = id WHERE id = 0"))


def flag_duplicate(
    session: Session, *, track_id: int, fingerprint: np.ndarray, threshold: float
) -> DuplicateMatch | None:
    """Record the earlier track this one duplicates (or clear a stale flag), index it, and flag later
    uploads of the same recording that were fingerprinted before this one (uploads processed in parallel)."""
    _serialize(session)
    match = find_duplicate(session, track_id=track_id, fingerprint=fingerprint, threshold=threshold)
    track = _track(session, track_id)
    track.duplicate_of = match.track_id if match else None
    track.duplicate_score = match.score if match else None
    index_fingerprint(session, track_id=track_id, fingerprint=fingerprint)
    if match is None:
        later = _matches(
            session,
            track_id=track_id,
            fingerprint=fingerprint,
            threshold=threshold,
            later=True,
            max_candidates=10,
        )
        for copy in later:
            other = _track(session, copy.track_id)
            if other.duplicate_of is None or other.duplicate_of > track_id:
                other.duplicate_of = track_id
                other.duplicate_score = copy.score
        session.flush()
    return match


def _track(session: Session, track_id: int) -> Track:
    track = session.get(Track, track_id)
    if track is None:
        raise NotFound(f"track {track_id} does not exist")
    return track
