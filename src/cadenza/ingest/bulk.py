"""Bulk import (`cadenza import`): a label's folder or manifest of thousands of files, through the same
ingest as single uploads, in the `bulk` lane, resumable after a kill.

```
folder walk / manifest (CSV, JSON) ──► plan: one import_items row per file (pending), in chunks
  ──► for each pending file, in order, while fewer than `max_in_flight` of the batch are processing:
        sha256 ──► the same bytes earlier in the batch? ──► `duplicate` (not imported again)
                └► accept_upload(lane="bulk"): the track and the row's `queued` state in ONE transaction
  ──► the pipeline (fingerprint_index flags recordings the batch holds twice in other encodings)
```

- **Resumable**: a file's row turns `queued` in the transaction that creates its track, so after a kill
  (however abrupt) every file has a track or none, never two; running the same import again takes the
  `pending` files only, and re-queues the batch's tracks the dead process left `processing` (in-process
  runner; with Celery the broker still holds their tasks).
- **Bounded memory and scratch disk**: files are planned and taken from the database in chunks, never
  held all at once; at most `max_in_flight` of the batch's tracks are processing at a time, so the work
  directories hold at most that many transcodes and the queue never holds the whole batch.
- **Single uploads first**: the runner takes `interactive` tracks before `bulk` ones (ingest/runner.py,
  ingest/queue.py)."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cadenza.catalog.models import Track, TrackStatus
from cadenza.catalog.service import TrackMetadata
from cadenza.checksums import sha256_file
from cadenza.db.engine import transaction
from cadenza.errors import CadenzaError, InvalidInput
from cadenza.ingest import pipeline
from cadenza.ingest.models import ImportBatch, ImportItem
from cadenza.ingest.service import Submitter, accept_upload
from cadenza.telemetry import imports

AUDIO_SUFFIXES = frozenset(
    {".flac", ".wav", ".wave", ".aif", ".aiff", ".mp3", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".alac"}
)
_CHUNK = 500
# Manifest columns (CSV header or JSON keys) besides `path`; `artists` may be "A; B" in CSV.
_META = {
    "title",
    "artists",
    "artist",
    "release",
    "album",
    "release_date",
    "upc",
    "genre",
    "track_number",
    "isrc",
}


@dataclass(frozen=True)
class Entry:
    path: Path
    meta: dict[str, Any] | None = None


def from_paths(paths: Iterable[Path]) -> Iterator[Entry]:
    """Files named directly as they are; folders walked (sorted, one folder at a time) for audio files.
    Raises InvalidInput for a path that does not exist."""
    for p in paths:
        if p.is_file():
            yield Entry(p.resolve())
        elif p.is_dir():
            yield from _walk(p)
        else:
            raise InvalidInput(f"{p}: no such file or folder")


def _walk(folder: Path) -> Iterator[Entry]:
    """Audio files under `folder` in path order (a folder's entries by name, descending into each
    sub-folder where its name falls), one folder listing in memory at a time."""
    with os.scandir(folder) as it:
        children = sorted(it, key=lambda d: d.name)
    for d in children:
        if d.is_dir(follow_symlinks=False):
            yield from _walk(Path(d.path))
        elif d.is_file() and Path(d.name).suffix.lower() in AUDIO_SUFFIXES:
            yield Entry(Path(d.path).resolve())


def from_manifest(manifest: Path) -> Iterator[Entry]:
    """Rows of a CSV (a header naming `path` and any of title, artists, release, release_date, upc,
    genre, track_number, isrc) or a JSON list of such objects (or {"tracks": [...]}); relative paths are
    relative to the manifest's folder."""
    base = manifest.parent
    if manifest.suffix.lower() == ".json":
        data = json.loads(manifest.read_text(encoding="utf-8"))
        rows = data.get("tracks") if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise InvalidInput(f'{manifest}: expected a list of tracks or {{"tracks": [...]}}')
        for i, row in enumerate(rows):
            yield _entry(row, base, where=f"{manifest} item {i}")
        return
    with manifest.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "path" not in reader.fieldnames:
            raise InvalidInput(f"{manifest}: the CSV needs a header with a `path` column")
        for n, row in enumerate(reader, start=2):
            yield _entry(row, base, where=f"{manifest} line {n}")


def _entry(row: object, base: Path, *, where: str) -> Entry:
    if not isinstance(row, dict) or not isinstance(row.get("path"), str) or not row["path"].strip():
        raise InvalidInput(f"{where}: every track needs a `path`")
    unknown = set(row) - _META - {"path"}
    if unknown:
        raise InvalidInput(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    meta = {k: v for k, v in row.items() if k != "path" and v not in (None, "")}
    path = Path(row["path"].strip())
    return Entry((base / path).resolve() if not path.is_absolute() else path, meta or None)


def metadata(meta: dict[str, Any] | None) -> TrackMetadata | None:
    """A manifest row's fields as metadata overriding the file's tags (validated by the catalog)."""
    if not meta:
        return None
    artists = meta.get("artists", meta.get("artist"))
    if isinstance(artists, str):
        artists = [a.strip() for a in artists.split(";") if a.strip()]
    number = meta.get("track_number")
    released = meta.get("release_date")
    try:
        return TrackMetadata(
            title=meta.get("title"),
            artists=list(artists or []),
            release_title=meta.get("release", meta.get("album")),
            release_date=date.fromisoformat(released) if isinstance(released, str) else None,
            upc=meta.get("upc"),
            genre=meta.get("genre"),
            track_number=int(number) if number not in (None, "") else None,
            isrc=meta.get("isrc"),
        )
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"manifest metadata: {exc}") from None


def batch_name(sources: Iterable[Path]) -> str:
    """The default name of an import: the same folders or manifest give the same name, so running the
    same command again resumes it."""
    digest = hashlib.sha1("\n".join(sorted(str(p.resolve()) for p in sources)).encode()).hexdigest()
    return f"import-{digest[:12]}"


def open_batch(session: Session, *, name: str) -> ImportBatch:
    batch = session.scalar(select(ImportBatch).where(ImportBatch.name == name))
    if batch is None:
        batch = ImportBatch(name=name)
        session.add(batch)
        session.flush()
    return batch


def plan(sessions: Any, *, batch_id: int, entries: Iterable[Entry]) -> int:
    """Add a pending row for every entry the batch does not hold yet (in chunks); the batch's size."""
    with sessions() as s:
        known = set(s.scalars(select(ImportItem.path).where(ImportItem.batch_id == batch_id)))
        position = s.scalar(select(func.max(ImportItem.position)).where(ImportItem.batch_id == batch_id)) or 0
    chunk: list[dict[str, Any]] = []

    def flush() -> None:
        if chunk:
            with transaction(sessions) as s:
                s.execute(ImportItem.__table__.insert(), chunk)
            chunk.clear()

    for e in entries:
        key = str(e.path)
        if key in known:
            continue
        known.add(key)
        position += 1
        chunk.append(
            {"batch_id": batch_id, "position": position, "path": key, "meta": e.meta, "state": "pending"}
        )
        if len(chunk) >= _CHUNK:
            flush()
    flush()
    return len(known)


@dataclass
class Tally:
    total: int = 0
    pending: int = 0
    processing: int = 0
    ready: int = 0
    failed: int = 0
    rejected: int = 0
    duplicates: int = 0  # the same bytes as an earlier file of the batch: not imported again
    similar: int = 0  # imported, and flagged by fingerprint as a copy of another track

    @property
    def finished(self) -> int:
        return self.total - self.pending - self.processing


def progress(t: Tally) -> imports.Figures:
    """A tally as the import's progress metrics count it (telemetry/imports.py): a similar track is done
    (it was imported), a rejected file failed, a file with the same bytes as an earlier one skipped."""
    return imports.Figures(
        done=t.ready,
        failed=t.failed + t.rejected,
        skipped=t.duplicates,
        processing=t.processing,
        pending=t.pending,
    )


def tally(session: Session, *, batch_id: int) -> Tally:
    t = Tally()
    rows = session.execute(
        select(ImportItem.state, Track.status, Track.duplicate_of.is_not(None), func.count())
        .select_from(ImportItem)
        .outerjoin(Track, Track.id == ImportItem.track_id)
        .where(ImportItem.batch_id == batch_id)
        .group_by(ImportItem.state, Track.status, Track.duplicate_of.is_not(None))
    )
    for state, status, similar, n in rows:
        t.total += n
        if state == "pending":
            t.pending += n
        elif state == "duplicate":
            t.duplicates += n
        elif state == "rejected" or status is None:
            t.rejected += n
        elif status == TrackStatus.processing:
            t.processing += n
        elif status == TrackStatus.ready:
            t.ready += n
            t.similar += n if similar else 0
        else:
            t.failed += n
    return t


def _in_flight(session: Session, batch_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(ImportItem)
            .join(Track, Track.id == ImportItem.track_id)
            .where(
                ImportItem.batch_id == batch_id,
                ImportItem.state == "queued",
                Track.status == TrackStatus.processing,
            )
        )
        or 0
    )


def resume(c: pipeline.Collaborators, runner: Any, *, batch_id: int) -> int:
    """Queue again the batch's tracks a dead process left `processing` (an in-process runner only: a
    broker still holds their tasks). Returns how many."""
    with c.sessions() as s:
        tracks = list(
            s.scalars(
                select(Track)
                .join(ImportItem, ImportItem.track_id == Track.id)
                .where(ImportItem.batch_id == batch_id, Track.status == TrackStatus.processing)
            )
        )
    for t in tracks:
        runner.submit(t.id, start=pipeline.resume_point(t), lane="bulk")
    return len(tracks)


def run(
    c: pipeline.Collaborators,
    runner: Submitter,
    *,
    batch_id: int,
    max_in_flight: int = 4,
    lane: str = "bulk",
    on_tick: Callable[[], None] = lambda: None,
    after_accept: Callable[[int, Path], None] | None = None,
    poll: float = 0.3,
) -> None:
    """Hand the batch's pending files to ingest, in order, keeping at most `max_in_flight` of its tracks
    processing; returns once every file is handed over (the last ones may still be processing)."""
    while True:
        with c.sessions() as s:
            items = list(
                s.execute(
                    select(ImportItem.id, ImportItem.path, ImportItem.meta)
                    .where(ImportItem.batch_id == batch_id, ImportItem.state == "pending")
                    .order_by(ImportItem.position)
                    .limit(50)
                )
            )
        if not items:
            return
        for item_id, path, meta in items:
            while True:
                with c.sessions() as s:
                    if _in_flight(s, batch_id) < max_in_flight:
                        break
                on_tick()
                time.sleep(poll)
            track_id = _accept(
                c, runner, batch_id=batch_id, item_id=item_id, path=Path(path), meta=meta, lane=lane
            )
            if track_id is not None and after_accept is not None:
                after_accept(track_id, Path(path))
            on_tick()


def _accept(
    c: pipeline.Collaborators,
    runner: Submitter,
    *,
    batch_id: int,
    item_id: int,
    path: Path,
    meta: dict[str, Any] | None,
    lane: str,
) -> int | None:
    def settle(**values: Any) -> None:
        with transaction(c.sessions) as s:
            s.execute(update(ImportItem).where(ImportItem.id == item_id).values(**values))

    try:
        size = path.stat().st_size
        checksum = sha256_file(path)
    except OSError as exc:
        settle(state="rejected", reason=f"cannot read the file: {exc.strerror or exc}")
        return None
    with c.sessions() as s:
        earlier = s.scalar(
            select(ImportItem.id)
            .where(
                ImportItem.batch_id == batch_id, ImportItem.checksum == checksum, ImportItem.state == "queued"
            )
            .order_by(ImportItem.position)
            .limit(1)
        )
    if earlier is not None:
        settle(state="duplicate", duplicate_of_item=earlier, checksum=checksum, size=size)
        return None

    def mark(session: Session, track: Track) -> None:
        session.execute(
            update(ImportItem)
            .where(ImportItem.id == item_id)
            .values(state="queued", track_id=track.id, checksum=checksum, size=size)
        )

    try:
        track = accept_upload(
            c,
            runner,
            path=path,
            filename=path.name,
            overrides=metadata(meta),
            checksum=checksum,
            lane=lane,
            within=mark,
        )
    except CadenzaError as exc:
        settle(state="rejected", reason=exc.reason, checksum=checksum, size=size)
        return None
    return track.id
