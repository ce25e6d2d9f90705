"""Objects in the store that no row references any more (`cadenza storage gc`): found, and removed on
request, without ever taking one that an ingest running at the same time is about to reference.

What references what (the key layouts are built in storage/keys.py, pipeline.source_key, artwork.py):

- `uploads/<track id>/...`: the track's `source_key`;
- `tracks/<track id>/<version>/...`: everything under the track's `media_prefix` (older versions and
  the media of failed or deleted tracks are orphans);
- `artwork/<xx>/<sha256>/...`: an `artworks` row with that hash.

Keys of any other shape are not ours and are left alone.

Why it is safe while ingest runs:

1. The store is listed **before** the references are read. An object listed was written before that
   read, so a reference committed before it is seen.
2. An object whose reference commits later is one being written right now: `accept_upload` stores the
   original inside the transaction that creates its track, publishing writes the media before the row
   that points at it. Those objects are young: anything modified within the **grace period** (default
   24 h, far longer than any stage may run) is kept.
3. Everything of a track still `processing` is kept whatever its age (its pipeline may resume after a
   restart and publish what is there).
4. Before a candidate is deleted, the references are read again and the object's time is checked again
   (content-addressed artwork may have been written anew and referenced meanwhile).

`purge_track` applies the same verdict at once to the objects of one deleted track (the admin's
delete): no grace period, since a deleted track never gets media again (a track still processing
cannot be deleted), and nothing else is looked at.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cadenza.catalog.models import Artwork, Track, TrackStatus
from cadenza.errors import Conflict
from cadenza.storage import keys
from cadenza.storage.base import ObjectStat, ObjectStore

log = logging.getLogger(__name__)

DEFAULT_GRACE_SEC = 24 * 3600
_TRACK_KEY = re.compile(r"(uploads|tracks)/([1-9][0-9]{0,17})/.+")
_ARTWORK_KEY = re.compile(r"artwork/[0-9a-f]{2}/([0-9a-f]{64})/.+")
KINDS = ("uploads", "tracks", "artwork")


@dataclass
class KindTally:
    """Objects and bytes of one kind of key (uploads, tracks, artwork, other)."""

    objects: int = 0
    bytes: int = 0
    referenced: int = 0
    kept_young: int = 0
    kept_in_flight: int = 0
    orphans: int = 0
    orphan_bytes: int = 0
    deleted: int = 0
    deleted_bytes: int = 0


@dataclass
class GcReport:
    applied: bool
    grace_sec: float
    kinds: dict[str, KindTally] = field(default_factory=lambda: {k: KindTally() for k in (*KINDS, "other")})
    orphan_keys: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def orphans(self) -> int:
        return sum(t.orphans for t in self.kinds.values())

    @property
    def orphan_bytes(self) -> int:
        return sum(t.orphan_bytes for t in self.kinds.values())

    @property
    def deleted(self) -> int:
        return sum(t.deleted for t in self.kinds.values())


@dataclass(frozen=True)
class _References:
    """What the catalog points at, read in one snapshot: per track, not per object."""

    sources: dict[int, str | None]
    prefixes: dict[int, str | None]
    processing: frozenset[int]
    artworks: frozenset[str]

    @classmethod
    def read(cls, sessions: sessionmaker[Session], *, track_id: int | None = None) -> _References:
        """Every track's references, or only `track_id`'s (and no artwork: `verdict` is then only
        asked about that track's keys)."""
        query = select(Track.id, Track.source_key, Track.media_prefix, Track.status)
        with sessions() as s:
            if track_id is not None:
                rows = s.execute(query.where(Track.id == track_id)).all()
                artworks: frozenset[str] = frozenset()
            else:
                rows = s.execute(query).all()
                artworks = frozenset(s.scalars(select(Artwork.sha256)))
        return cls(
            sources={r.id: r.source_key for r in rows},
            prefixes={r.id: r.media_prefix for r in rows},
            processing=frozenset(r.id for r in rows if r.status == TrackStatus.processing),
            artworks=artworks,
        )

    def verdict(self, key: str) -> tuple[str, str]:
        """(kind, "referenced" | "in_flight" | "orphan" | "foreign") for one key."""
        m = _TRACK_KEY.fullmatch(key)
        if m:
            kind, track_id = m.group(1), int(m.group(2))
            if track_id in self.processing:
                return kind, "in_flight"
            if kind == "uploads":
                return kind, "referenced" if self.sources.get(track_id) == key else "orphan"
            prefix = self.prefixes.get(track_id)
            return kind, "referenced" if prefix and key.startswith(prefix + "/") else "orphan"
        m = _ARTWORK_KEY.fullmatch(key)
        if m:
            return "artwork", "referenced" if m.group(1) in self.artworks else "orphan"
        return "other", "foreign"


def collect(
    store: ObjectStore,
    sessions: sessionmaker[Session],
    *,
    apply: bool = False,
    grace_sec: float = DEFAULT_GRACE_SEC,
    clock: Callable[[], float] = time.time,
    on_progress: Callable[[int], None] | None = None,
    chunk: int = 50_000,
) -> GcReport:
    """Find the store's orphans (see the module docstring); with `apply`, delete them.

    The listing is taken `chunk` objects at a time, each chunk followed by a fresh read of the
    references, so memory stays bounded however large the store is (the references are per track)."""
    t0 = time.perf_counter()
    report = GcReport(applied=apply, grace_sec=grace_sec)
    listed: list[tuple[str, ObjectStat]] = []
    seen = 0
    for item in store.scan():  # 1. list first ...
        listed.append(item)
        if len(listed) >= chunk:
            seen += len(listed)
            _judge(store, sessions, listed, report, apply=apply, clock=clock)
            listed = []
            if on_progress is not None:
                on_progress(seen)
    if listed:
        _judge(store, sessions, listed, report, apply=apply, clock=clock)
        if on_progress is not None:
            on_progress(seen + len(listed))
    report.orphan_keys.sort()
    report.seconds = time.perf_counter() - t0
    return report


_SAMPLE = 1000  # orphan keys kept in the report to show


def _judge(
    store: ObjectStore,
    sessions: sessionmaker[Session],
    listed: list[tuple[str, ObjectStat]],
    report: GcReport,
    *,
    apply: bool,
    clock: Callable[[], float],
) -> None:
    refs = _References.read(sessions)  # ... then read what is referenced
    now = clock()
    candidates: list[tuple[str, KindTally]] = []
    for key, st in listed:
        kind, verdict = refs.verdict(key)
        tally = report.kinds[kind]
        tally.objects += 1
        tally.bytes += st.size
        if verdict in ("referenced", "foreign"):
            tally.referenced += verdict == "referenced"
        elif verdict == "in_flight":
            tally.kept_in_flight += 1
        elif now - st.mtime < report.grace_sec:
            tally.kept_young += 1
        else:
            tally.orphans += 1
            tally.orphan_bytes += st.size
            candidates.append((key, tally))
            if len(report.orphan_keys) < _SAMPLE:
                report.orphan_keys.append(key)
    if apply and candidates:
        _delete(store, sessions, candidates, grace_sec=report.grace_sec, clock=clock)


def _delete(
    store: ObjectStore,
    sessions: sessionmaker[Session],
    candidates: Iterable[tuple[str, KindTally]],
    *,
    grace_sec: float,
    clock: Callable[[], float],
) -> None:
    refs = _References.read(sessions)  # 4. a fresh look just before deleting
    for key, tally in candidates:
        if refs.verdict(key)[1] != "orphan":
            continue
        try:
            now_st = store.stat(key)
        except FileNotFoundError:
            continue
        if clock() - now_st.mtime < grace_sec:  # written anew since the listing
            continue
        store.delete(key)
        tally.deleted += 1
        tally.deleted_bytes += now_st.size
        log.info("storage gc: deleted %s (%d bytes)", key, now_st.size)


def purge_track(store: ObjectStore, sessions: sessionmaker[Session], *, track_id: int) -> int:
    """Remove the stored objects of a deleted track (`catalog.service.delete_track`, committed) that no
    row references: its source upload and every media version. Returns how many were removed.

    Safe to call again after a failure part-way (a missing object is skipped), and what a failure
    leaves behind `cadenza storage gc` removes later by the same verdict. Only for a deleted track (or
    one whose row is gone): a live track's current media is referenced, but an older version may still
    be read by a publish in progress, which the gc's grace period is there for."""
    with sessions() as s:
        status = s.scalar(select(Track.status).where(Track.id == track_id))
    if status not in (None, TrackStatus.deleted):  # a deleted track stays deleted: no race after this
        raise Conflict(f"track {track_id} is not deleted: its objects are left to `cadenza storage gc`")
    refs = _References.read(sessions, track_id=track_id)
    removed = 0
    for root in (f"uploads/{track_id}", keys.track_root(track_id)):
        for key in store.list(root):
            if refs.verdict(key)[1] != "orphan":
                continue
            try:
                store.delete(key)
            except FileNotFoundError:
                continue
            removed += 1
            log.info("deleted track %d: removed %s", track_id, key)
    return removed
