"""`cadenza repackage`: bring published tracks to the current packaging (CMAF shared by HLS and DASH,
FLAC in fMP4 for hi-fi, encryption for protected tracks) from the media already published.

What is re-encoded, and why (nothing lossy ever is):
- AAC renditions: copied. CMAF ones (v2) are fetched as they are; older plain fMP4 HLS (v1) is re-muxed
  by ffmpeg with `-c copy` into CMAF (same packets, same cut points).
- The hi-fi FLAC stream: copied when published; for a v1 track it is made from the published
  `download/hifi.flac` (lossless to lossless, ~0.8 s CPU for 4 minutes, as at ingest).
- Protection: the clear CMAF files are encrypted (protection/cenc.py), no ffmpeg at all.
- A track whose published media is already encrypted (changing its key, or unprotecting it) has no
  clear segments to start from: it goes through the pipeline again from its stored upload (transcode +
  publish), the one case that re-encodes.

A track whose published version already equals the one it would get is skipped, so an interrupted run
is resumed by running it again.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import m3u8
from sqlalchemy import select

from cadenza.catalog.models import FLAC_STREAM, Track, TrackStatus, TrackVariant
from cadenza.ingest import ffmpeg, pipeline
from cadenza.ingest import transcode as tc
from cadenza.storage import keys


@dataclass(frozen=True)
class Outcome:
    track_id: int
    action: str  # "current" | "copied" | "remuxed" | "reencoded" | "failed"
    error: str | None = None


def candidates(c: pipeline.Collaborators, *, track_ids: list[int] | None) -> list[int]:
    """Ready tracks (all, or those named) in id order."""
    with c.sessions() as s:
        q = select(Track.id).where(Track.status == TrackStatus.ready).order_by(Track.id)
        if track_ids is not None:
            q = q.where(Track.id.in_(track_ids))
        return list(s.scalars(q))


def target_prefix(c: pipeline.Collaborators, track: Track) -> str:
    assert track.source_checksum
    key = pipeline.protection_key(c, track.id)
    version = pipeline.media_version(c.settings, track.source_checksum, key.kid if key else None)
    return keys.track_prefix(track.id, version)


def repackage_track(c: pipeline.Collaborators, *, track_id: int) -> Outcome:
    try:
        return _repackage(c, track_id)
    except Exception as exc:  # one track's failure never stops the run
        return Outcome(track_id, "failed", f"{type(exc).__name__}: {exc}")


def _repackage(c: pipeline.Collaborators, track_id: int) -> Outcome:
    with c.sessions() as s:
        track = s.get_one(Track, track_id)
        variants = {
            v.quality: v for v in s.scalars(select(TrackVariant).where(TrackVariant.track_id == track_id))
        }
        s.expunge_all()
    if track.status != TrackStatus.ready or not track.media_prefix:
        return Outcome(track_id, "failed", "track is not ready")
    prefix = target_prefix(c, track)
    if prefix == track.media_prefix:
        return Outcome(track_id, "current")
    aac = sorted((v for q, v in variants.items() if q.startswith("aac_")), key=lambda v: v.bitrate_kbps or 0)
    if any(v.container == "cmaf-cenc" for v in variants.values()) or not aac:
        # No clear segments to start from: the pipeline runs again from the stored upload.
        if not track.source_key:
            return Outcome(track_id, "failed", "published media is encrypted and the upload is gone")
        pipeline.rebuild(c, track_id)
        return Outcome(track_id, "reencoded")
    work = Path(tempfile.mkdtemp(prefix=f"repackage-{track_id}-", dir=_scratch(c)))
    try:
        out = work / "out"
        remuxed = False
        for v in aac:
            name = v.quality
            target = out / "hls" / name
            target.mkdir(parents=True)
            if v.container == "cmaf":
                _fetch_rendition(c, v.storage_key, target)
            else:
                src = work / "src" / name
                src.mkdir(parents=True)
                _fetch_rendition(c, v.storage_key, src)
                ffmpeg.run(
                    ["-i", str(src / "index.m3u8"), "-map", "0:a:0", "-c", "copy",
                     *tc.cmaf_hls_args(c.settings.ingest.hls_segment_sec, target)],
                    timeout=c.settings.ingest.stage_timeout_sec,
                )  # fmt: skip
                remuxed = True
        lossy = _audio(out / "hls" / aac[0].quality)
        lossless = None
        if FLAC_STREAM in variants:
            (out / tc.FLAC_STREAM_DIR).mkdir(parents=True)
            _fetch_rendition(c, variants[FLAC_STREAM].storage_key, out / tc.FLAC_STREAM_DIR)
            lossless = _audio(out / tc.FLAC_STREAM_DIR)
        elif "flac" in variants:
            lossless = _flac_stream_from_download(c, variants["flac"].storage_key, work, out, lossy[0])
            remuxed = True
        key = pipeline.protection_key(c, track_id)
        kbps = [v.bitrate_kbps or int(v.quality.removeprefix("aac_")) for v in aac]
        renditions, flac_stream = tc.package_cmaf(out, kbps, lossy=lossy, lossless=lossless, protection=key)
        downloads = {}
        if key is None:
            for quality in ("mp3_320", "flac"):
                if quality in variants:
                    rel = variants[quality].storage_key.removeprefix(track.media_prefix + "/")
                    (out / rel).parent.mkdir(parents=True, exist_ok=True)
                    _fetch(c, variants[quality].storage_key, out / rel)
                    downloads[quality] = rel
        if track.waveform_key:
            _fetch(c, track.waveform_key, out / "waveform.json")
        result = tc.TranscodeResult(
            out_dir=out,
            renditions=renditions,
            master_playlist=tc.MASTER_PLAYLIST,
            mp3=downloads.get("mp3_320", ""),
            flac=downloads.get("flac"),
            flac_skipped_reason=track.hifi_unavailable_reason,
            peaks="",
            fingerprint="",
            duration_sec=track.duration_sec or 0.0,
            mpd=tc.MPD,
            hifi_master_playlist=tc.HIFI_MASTER_PLAYLIST if flac_stream else None,
            hifi_mpd=tc.HIFI_MPD if flac_stream else None,
            flac_stream=flac_stream,
            kid=key.kid.hex() if key else None,
        )
        pipeline.publish_result(c, track_id, result, prefix=prefix)
        return Outcome(track_id, "remuxed" if remuxed else "copied")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _scratch(c: pipeline.Collaborators) -> Path:
    path = c.settings.work_path / "repackage"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _fetch(c: pipeline.Collaborators, key: str, dest: Path) -> None:
    with c.store.fetch(key) as path:
        shutil.copyfile(path, dest)


def _fetch_rendition(c: pipeline.Collaborators, playlist_key: str, dest: Path) -> None:
    """A published media playlist with its init and media segments, under their published names."""
    base = playlist_key.rsplit("/", 1)[0]
    _fetch(c, playlist_key, dest / "index.m3u8")
    playlist = m3u8.load(str(dest / "index.m3u8"))
    names = {s.uri for s in playlist.segments} | {m.uri for m in playlist.segment_map}
    for name in sorted(names):
        if "/" in name or name.startswith("."):
            raise ValueError(f"{playlist_key}: unexpected segment URI {name!r}")
        _fetch(c, f"{base}/{name}", dest / name)


def _audio(rendition: Path) -> tuple[int, int]:
    """(sample rate, channels) of a rendition, from its init segment."""
    init = next(rendition.glob("*.mp4"))
    stream = next(s for s in ffmpeg.probe(init).get("streams", []) if s.get("codec_type") == "audio")
    return int(stream["sample_rate"]), int(stream["channels"])


def _flac_stream_from_download(
    c: pipeline.Collaborators, key: str, work: Path, out: Path, lossy_rate: int
) -> tuple[int, int]:
    src = work / "hifi.flac"
    _fetch(c, key, src)
    stream = next(s for s in ffmpeg.probe(src).get("streams", []) if s.get("codec_type") == "audio")
    rate, channels = int(stream["sample_rate"]), int(stream["channels"])
    bits = int(stream.get("bits_per_raw_sample") or 16)
    target = out / tc.FLAC_STREAM_DIR
    target.mkdir(parents=True)
    fmt = ["-sample_fmt", "s16"] if bits <= 16 else ["-sample_fmt", "s32", "-bits_per_raw_sample", "24"]
    ffmpeg.run(
        ["-i", str(src), "-map", "0:a:0", "-c:a", "flac", *fmt,
         "-frame_size", str(tc.flac_stream_frame(rate, lossy_rate)), "-strict", "-2",
         *tc.cmaf_hls_args(c.settings.ingest.hls_segment_sec, target)],
        timeout=c.settings.ingest.stage_timeout_sec,
    )  # fmt: skip
    return rate, channels
