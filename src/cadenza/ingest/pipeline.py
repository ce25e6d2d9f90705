"""The ingest pipeline: each stage is a function of (collaborators, track id) that loads what it needs,
does its work, records the result and names the next stage. The in-process runner and the Celery tasks
both call `run_stage`; neither holds any rule of its own. See README.md beside this file."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from cadenza.catalog import artwork, lyrics
from cadenza.catalog import service as catalog
from cadenza.catalog.models import DASH, FLAC_STREAM, FingerprintKey, Track, TrackStatus, TrackVariant
from cadenza.checksums import sha256_file
from cadenza.config import Settings
from cadenza.db.engine import transaction
from cadenza.errors import InvalidInput, StageError
from cadenza.ingest import fingerprint as fp
from cadenza.ingest import fingerprint_index as fingerprints
from cadenza.ingest import metadata
from cadenza.ingest import transcode as tc
from cadenza.ingest import validate as val
from cadenza.ingest import waveform as wf
from cadenza.protection import service as protection
from cadenza.protection.keys import KeyProvider, TrackKey
from cadenza.search import service as search
from cadenza.storage import keys, mediatypes
from cadenza.storage.base import ObjectStore
from cadenza.telemetry import metrics

log = logging.getLogger(__name__)

PACKAGING_VERSION = 2
STAGES: tuple[str, ...] = ("validate", "transcode", "waveform", "fingerprint", "publish")
DONE = "done"


@dataclass
class Collaborators:
    """What the stages need, wired once by bootstrap."""

    settings: Settings
    sessions: sessionmaker[Session]
    store: ObjectStore
    keys: KeyProvider | None = None  # content keys for protected tracks (bootstrap wires the local one)


def source_key(track_id: int, checksum: str, suffix: str) -> str:
    """Where an upload's original file lives in the store."""
    clean = "".join(c for c in suffix.lower() if c.isalnum())[:8] or "bin"
    return f"uploads/{track_id}/{checksum[:16]}.{clean}"


def media_version(settings: Settings, checksum: str, kid: bytes | None = None) -> str:
    """A key from the source's checksum, every output setting and the content key's id (protected
    tracks), so a changed setting or key never serves stale media."""
    profile = settings.ingest.model_dump(
        include={"hls_segment_sec", "aac_bitrates_kbps", "mp3_bitrate_kbps", "waveform_pixels_per_second"}
    )
    # v2: CMAF segments (cmfc, styp + sidx) shared by the HLS masters and the DASH MPDs, FLAC in fMP4.
    blob = json.dumps(
        {"src": checksum, "profile": profile, "v": PACKAGING_VERSION, **({"kid": kid.hex()} if kid else {})},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def protection_key(c: Collaborators, track_id: int) -> TrackKey | None:
    """The content key to encrypt this track with, if an administrator protects it."""
    with c.sessions() as s:
        if not protection.is_protected(s, track_id=track_id):
            return None
    if c.keys is None:
        raise StageError("transcode", "track is protected but no key provider is configured", retryable=False)
    return c.keys.packaging_key(track_id=track_id)


def _version(c: Collaborators, track: Track) -> str:
    assert track.source_checksum
    key = protection_key(c, track.id)
    return media_version(c.settings, track.source_checksum, key.kid if key else None)


def _work_dir(c: Collaborators, track: Track) -> Path:
    return c.settings.work_path / str(track.id) / _version(c, track)


def _load(session: Session, track_id: int) -> Track:
    track = session.get(Track, track_id)
    if track is None:
        raise StageError("pipeline", f"track {track_id} does not exist", retryable=False)
    return track


# --- stages -------------------------------------------------------------------------------------------


def _validate(c: Collaborators, track: Track) -> None:
    assert track.source_key
    with c.store.fetch(track.source_key) as path:
        info = val.validate(path, c.settings.limits)
        # From the file already fetched, once it is known to be audio: mutagen reads the tag blocks only.
        cover = metadata.embedded_cover(path)
        found_lyrics = metadata.embedded_lyrics(path)
    with transaction(c.sessions) as s:
        t = _load(s, track.id)
        t.source_info = asdict(info)
        t.duration_sec = info.duration_sec
        lyrics.record_embedded(s, track_id=track.id, lyrics=found_lyrics)
    embedded_artwork(c, track.id, cover)


def embedded_artwork(c: Collaborators, track_id: int, cover: bytes | None) -> None:
    """The cover embedded in the upload becomes the track's artwork (and its release's, if that has
    none). A picture that is refused, or that cannot be stored, never fails the track: the reason is
    logged and kept in `artwork_problem`, and the track goes on without artwork."""
    art_id: int | None = None
    problem: str | None = None
    if cover is not None:
        try:
            art_id = artwork.store_image(c.sessions, store=c.store, data=cover).id
        except InvalidInput as exc:
            problem = f"embedded picture refused: {exc.reason}"
        except Exception as exc:  # a Pillow defect or a store hiccup: the audio matters more
            log.exception("track %s: embedded picture could not be stored", track_id)
            problem = f"embedded picture could not be stored: {type(exc).__name__}: {exc}"
        if problem:
            log.warning("track %s: %s", track_id, problem)
    with transaction(c.sessions) as s:
        artwork.attach_to_track(s, track_id=track_id, artwork_id=art_id, problem=problem)


def _source_info(track: Track) -> val.SourceInfo:
    if not track.source_info:
        raise StageError("transcode", "track has not been validated", retryable=False)
    return val.SourceInfo(**track.source_info)  # type: ignore[arg-type]


def _transcode(c: Collaborators, track: Track) -> tc.TranscodeResult:
    info = _source_info(track)
    work = _work_dir(c, track)
    work.mkdir(parents=True, exist_ok=True)
    assert track.source_key
    with c.store.fetch(track.source_key) as path:
        result = tc.transcode(
            path,
            sample_rate=info.sample_rate,
            channels=info.channels,
            lossless=info.lossless,
            bits_per_sample=info.bits_per_sample,
            duration_sec=info.duration_sec,
            out_dir=work / "out",
            cfg=c.settings.ingest,
            protection=protection_key(c, track.id),
        )
    summary = asdict(result)
    summary["out_dir"] = str(result.out_dir)
    (work / "transcode.json").write_text(json.dumps(summary, default=str))
    with transaction(c.sessions) as s:
        t = _load(s, track.id)
        t.hifi_unavailable_reason = result.flac_skipped_reason
    return result


def _transcoded(c: Collaborators, track: Track) -> tc.TranscodeResult:
    """The transcode stage's outputs; made again if this worker's disk does not have them (another host)."""
    summary_path = _work_dir(c, track) / "transcode.json"
    if not summary_path.exists():
        return _transcode(c, track)
    data: dict[str, Any] = json.loads(summary_path.read_text())
    data["out_dir"] = Path(data["out_dir"])
    data["renditions"] = [tc.Rendition(**r) for r in data["renditions"]]
    if data.get("flac_stream"):
        data["flac_stream"] = tc.Rendition(**data["flac_stream"])
    return tc.TranscodeResult(**data)


def _waveform(c: Collaborators, track: Track) -> None:
    result = _transcoded(c, track)
    wf.write_waveform_json(result.out_dir / result.peaks, result.out_dir / "waveform.json")


def _fingerprint(c: Collaborators, track: Track) -> None:
    result = _transcoded(c, track)
    raw = (result.out_dir / result.fingerprint).read_bytes()
    items = fp.parse_raw(raw)
    if len(items) == 0:
        # Chromaprint needs about 3 s of sound; a shorter (but valid) track simply has no fingerprint.
        log.info("track %s: too short to fingerprint; duplicate check skipped", track.id)
        return
    with transaction(c.sessions) as s:
        fingerprints.flag_duplicate(
            s, track_id=track.id, fingerprint=items, threshold=c.settings.ingest.duplicate_threshold
        )


def _publish(c: Collaborators, track: Track) -> None:
    result = _transcoded(c, track)
    if not (result.out_dir / "waveform.json").exists():
        _waveform(c, track)
    publish_result(c, track.id, result, prefix=keys.track_prefix(track.id, _version(c, track)))
    shutil.rmtree(c.settings.work_path / str(track.id), ignore_errors=True)


def publish_result(c: Collaborators, track_id: int, result: tc.TranscodeResult, *, prefix: str) -> None:
    """Put a packaged output under `prefix`, point the track at it (ready), then drop older versions.
    Also the last step of `cadenza repackage`."""
    out = result.out_dir
    # A protected track stores only encrypted segments: no progressive (clear) files are published.
    skipped = {"analysis", "download"} if result.kid else {"analysis"}
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.relative_to(out).parts[0] not in skipped)
    ordered = publish_order(files)
    try:
        for path in ordered:
            key = f"{prefix}/{path.relative_to(out).as_posix()}"
            c.store.put_file(key, path, content_type=mediatypes.content_type(path.name), disposable=True)
        variants = _variant_rows(track_id, prefix, result)
        with transaction(c.sessions) as s:
            t = _load(s, track_id)
            if t.status == TrackStatus.deleted:
                # Deleted by an administrator while this ran (a repackage): nothing of it is published.
                raise StageError("publish", "the track was deleted while it was being processed")
            s.execute(delete(TrackVariant).where(TrackVariant.track_id == t.id))
            s.add_all(variants)
            t.media_prefix = prefix
            t.waveform_key = f"{prefix}/waveform.json"
            t.duration_sec = result.duration_sec
            # A track taken down while it was repackaged stays down: only its media changed.
            if t.status != TrackStatus.taken_down:
                t.status = TrackStatus.ready
            t.stage = DONE
            t.failure_reason = None
            if result.loudness is not None:
                # Now that it is ready, the release's album figure counts it.
                catalog.record_loudness(s, track=t, measured=tc.load_loudness(out / result.loudness))
            search.index_track(s, track_id=t.id)
    except BaseException:
        c.store.delete_prefix(prefix)
        raise
    # Older versions (other settings, source or key) of this track are no longer referenced.
    for key in c.store.list(keys.track_root(track_id)):
        if not key.startswith(prefix + "/"):
            c.store.delete(key)


MANIFESTS = (".m3u8", ".mpd")


def publish_order(files: list[Path]) -> list[Path]:
    """Media first, then variant playlists, then the masters and MPDs: a reader never sees a manifest
    whose parts are missing. Keys of segments are content hashes, so re-publishing rewrites identical
    objects."""
    top = [p for p in files if p.name == "master.m3u8" or p.suffix == ".mpd"]
    variants = sorted((p for p in files if p.suffix == ".m3u8" and p not in top), key=str)
    return [p for p in files if p.suffix not in MANIFESTS] + variants + top


def _variant_rows(track_id: int, prefix: str, result: tc.TranscodeResult) -> list[TrackVariant]:
    out = result.out_dir
    rows: list[TrackVariant] = []
    for r in result.renditions:
        playlist = out / r.playlist
        size = sum(p.stat().st_size for p in playlist.parent.iterdir() if p.is_file())
        rows.append(
            TrackVariant(
                track_id=track_id,
                quality=r.name,
                codec="aac",
                container="cmaf",
                bitrate_kbps=r.bitrate_kbps,
                storage_key=f"{prefix}/{r.playlist}",
                size_bytes=size,
                checksum=sha256_file(playlist),
            )
        )
    if result.flac_stream is not None:
        r = result.flac_stream
        playlist = out / r.playlist
        rows.append(
            TrackVariant(
                track_id=track_id,
                quality=FLAC_STREAM,
                codec="flac",
                container="cmaf",
                bitrate_kbps=r.bitrate_kbps,
                storage_key=f"{prefix}/{r.playlist}",
                size_bytes=sum(p.stat().st_size for p in playlist.parent.iterdir() if p.is_file()),
                checksum=sha256_file(playlist),
            )
        )
    if result.mpd is not None:
        # The DASH MPD over the same segments: a row of its own so delivery knows the track has one.
        mpd = out / result.mpd
        rows.append(
            TrackVariant(
                track_id=track_id,
                quality=DASH,
                codec="aac",
                container="mpd",
                bitrate_kbps=None,
                storage_key=f"{prefix}/{result.mpd}",
                size_bytes=mpd.stat().st_size,
                checksum=sha256_file(mpd),
            )
        )
    container = "cmaf-cenc" if result.kid else "cmaf"
    for row in rows:
        if row.container == "cmaf":
            row.container = container
    if result.kid:
        return rows
    files = [("mp3_320", "mp3", "mp3", 320, result.mp3)]
    if result.flac:
        files.append(("flac", "flac", "flac", None, result.flac))
    for quality, codec, container, kbps, rel in files:
        path = out / rel
        rows.append(
            TrackVariant(
                track_id=track_id,
                quality=quality,
                codec=codec,
                container=container,
                bitrate_kbps=kbps,
                storage_key=f"{prefix}/{rel}",
                size_bytes=path.stat().st_size,
                checksum=sha256_file(path),
            )
        )
    return rows


_STAGE_FUNCS: dict[str, Callable[[Collaborators, Track], object]] = {
    "validate": _validate,
    "transcode": _transcode,
    "waveform": _waveform,
    "fingerprint": _fingerprint,
    "publish": _publish,
}


# --- driving ------------------------------------------------------------------------------------------


def next_stage(stage: str) -> str | None:
    i = STAGES.index(stage)
    return STAGES[i + 1] if i + 1 < len(STAGES) else None


def run_stage(c: Collaborators, track_id: int, stage: str) -> str | None:
    """Run one stage for a track; return the next stage, or None when the track is done or failed.

    A StageError marks the track failed (with stage and reason) and cleans up. Any other exception is
    left to the caller, which retries it (a database hiccup, a killed process, a full disk)."""
    if stage not in _STAGE_FUNCS:
        raise ValueError(f"unknown stage {stage!r}")
    with c.sessions() as s:
        track = s.get(Track, track_id)
        if track is None or track.status == TrackStatus.failed:
            return None
        if track.status == TrackStatus.ready and stage != "publish":
            return None
        s.expunge(track)
    _set_stage(c, track_id, stage)
    try:
        _STAGE_FUNCS[stage](c, track)
    except StageError as exc:
        if exc.retryable:
            raise
        mark_failed(c, track_id, stage=exc.stage if exc.stage != "pipeline" else stage, reason=exc.reason)
        return None
    return next_stage(stage)


def rebuild(c: Collaborators, track_id: int) -> None:
    """Transcode and publish a ready track again from its stored upload; it stays playable on its old
    media until the new version is published (`cadenza repackage` when no clear segments exist)."""
    with c.sessions() as s:
        track = _load(s, track_id)
        s.expunge(track)
    _transcode(c, track)
    _publish(c, track)


def run_all(c: Collaborators, track_id: int, *, start: str = "validate") -> None:
    """Run the stages from `start` to the end in this thread (the in-process runner's unit of work)."""
    stage: str | None = start
    while stage is not None:
        stage = run_stage(c, track_id, stage)


def resume_point(track: Track) -> str:
    """Where a track that was interrupted while processing should continue."""
    return track.stage if track.stage in _STAGE_FUNCS else "validate"


def _set_stage(c: Collaborators, track_id: int, stage: str) -> None:
    with transaction(c.sessions) as s:
        t = _load(s, track_id)
        t.stage = stage


def mark_failed(c: Collaborators, track_id: int, *, stage: str, reason: str) -> None:
    """Record the failure and remove everything the track had put anywhere but its source."""
    log.info("track %s failed at %s: %s", track_id, stage, reason)
    metrics.tracks_failed.labels(stage).inc()
    c.store.delete_prefix(keys.track_root(track_id))
    shutil.rmtree(c.settings.work_path / str(track_id), ignore_errors=True)
    dropped_source: str | None = None
    with transaction(c.sessions) as s:
        t = s.get(Track, track_id)
        if t is None:
            return
        t.status = TrackStatus.failed
        t.stage = stage
        t.failure_reason = reason
        t.media_prefix = None
        t.waveform_key = None
        s.execute(delete(TrackVariant).where(TrackVariant.track_id == track_id))
        s.execute(delete(FingerprintKey).where(FingerprintKey.track_id == track_id))
        if stage == "validate":
            # Not audio, or not acceptable: keeping the bytes would only fill the disk.
            dropped_source, t.source_key = t.source_key, None
    if dropped_source:
        c.store.delete(dropped_source)
