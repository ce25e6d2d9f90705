"""Reprocessing the catalog: run only the analyses a ready track is missing (loudness, lyrics, artwork),
from what is stored, without encoding anything again. The `cadenza reprocess` command and the Celery
task (`cadenza.worker`, queue `cadenza-analysis`) both call `reprocess_track`; neither holds a rule.

- **What is missing**: loudness when the track has no gating blocks (measured before the loudness tap
  existed); lyrics when nobody has looked (`lyrics_source` NULL); artwork when the track has none and no
  recorded problem. A track that has them all is skipped, so a run that stopped half-way is simply run
  again (resumable), and an analysis that finished is never repeated.
- **From what**: the original upload when it is kept (the figures then match a fresh ingest exactly),
  else the published hi-fi FLAC, else the MP3 download (a lossy copy: loudness within a few hundredths of
  a LU of the source, true peak may read a little higher). Lyrics and artwork need the upload's tags:
  the published files carry none, so without the original they are recorded as not found.
- **Decode once**: the loudness is one ffmpeg decode with the same filters as the transcode's tap
  (`ingest/loudness.py`); lyrics and artwork read tag blocks only (mutagen), no audio.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import or_, select

from cadenza.catalog import lyrics
from cadenza.catalog import service as catalog
from cadenza.catalog.models import Track, TrackStatus, TrackVariant
from cadenza.db.engine import transaction
from cadenza.ingest import loudness as ld
from cadenza.ingest import metadata
from cadenza.ingest.pipeline import Collaborators, embedded_artwork

log = logging.getLogger(__name__)

ANALYSES = ("loudness", "lyrics", "artwork")
QUEUE = "cadenza-analysis"
TASK_NAME = "cadenza.analysis.reprocess"
_DECODE_TIMEOUT_SEC = 1800.0


@dataclass
class Outcome:
    """What reprocessing did to one track."""

    track_id: int
    done: list[str] = field(default_factory=list)
    skipped: bool = False  # nothing was missing
    error: str | None = None
    audio_sec: float = 0.0  # audio decoded (for throughput)


def parse_only(value: str) -> tuple[str, ...]:
    """`loudness,lyrics` → ("loudness", "lyrics"); ValueError naming an unknown analysis."""
    names = tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    unknown = [n for n in names if n not in ANALYSES]
    if unknown or not names:
        raise ValueError(
            f"unknown analysis {', '.join(unknown) or '(none)'}: choose from {', '.join(ANALYSES)}"
        )
    return names


def missing(track: Track, only: Iterable[str]) -> list[str]:
    """The analyses among `only` that `track` lacks."""
    lacks = {
        "loudness": track.loudness_blocks is None,
        "lyrics": track.lyrics_source is None,
        "artwork": track.artwork_id is None and track.artwork_problem is None,
    }
    return [name for name in only if lacks[name]]


def candidates(c: Collaborators, *, only: Sequence[str], track_ids: Sequence[int] | None = None) -> list[int]:
    """Ready tracks (all, or those of `track_ids`) missing one of `only`, in id order."""
    lacks = {
        "loudness": Track.loudness_blocks.is_(None),
        "lyrics": Track.lyrics_source.is_(None),
        "artwork": Track.artwork_id.is_(None) & Track.artwork_problem.is_(None),
    }
    query = select(Track.id).where(Track.status == TrackStatus.ready, or_(*(lacks[n] for n in only)))
    if track_ids is not None:
        query = query.where(Track.id.in_(list(track_ids)))
    with c.sessions() as s:
        return list(s.scalars(query.order_by(Track.id)))


def reprocess_track(c: Collaborators, *, track_id: int, only: Sequence[str]) -> Outcome:
    """Run the analyses among `only` that the ready track `track_id` lacks; an error is reported in the
    outcome (one bad track never stops a run)."""
    outcome = Outcome(track_id)
    with c.sessions() as s:
        track = s.get(Track, track_id)
        if track is None or track.status != TrackStatus.ready:
            outcome.error = "not a ready track"
            return outcome
        todo = missing(track, only)
        source_key = track.source_key
        published = {
            v.quality: v.storage_key
            for v in s.scalars(select(TrackVariant).where(TrackVariant.track_id == track_id))
        }
        duration = track.duration_sec or 0.0
    if not todo:
        outcome.skipped = True
        return outcome
    scratch = c.settings.work_path / "reprocess" / str(track_id)
    try:
        with ExitStack() as stack:
            original = stack.enter_context(c.store.fetch(source_key)) if source_key else None
            if "loudness" in todo:
                audio = original or _published(c, stack, published)
                measured = ld.measure(audio, scratch=scratch, timeout=_DECODE_TIMEOUT_SEC)
                outcome.audio_sec = duration
                with transaction(c.sessions) as s:
                    t = s.get(Track, track_id)
                    if t is not None:
                        catalog.record_loudness(s, track=t, measured=measured)
                outcome.done.append("loudness")
            if "lyrics" in todo:
                found = metadata.embedded_lyrics(original) if original else None
                with transaction(c.sessions) as s:
                    lyrics.record_embedded(s, track_id=track_id, lyrics=found)
                outcome.done.append("lyrics")
            if "artwork" in todo:
                embedded_artwork(c, track_id, metadata.embedded_cover(original) if original else None)
                outcome.done.append("artwork")
    except Exception as exc:  # reported per track; the run goes on
        log.warning("track %s: reprocessing failed: %s", track_id, exc)
        outcome.error = f"{type(exc).__name__}: {exc}"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return outcome


def _published(c: Collaborators, stack: ExitStack, published: dict[str, str]) -> Path:
    """The best published copy of the audio: the hi-fi FLAC, else the MP3."""
    for quality in ("flac", "mp3_320"):
        if quality in published:
            return stack.enter_context(c.store.fetch(published[quality]))
    raise FileNotFoundError("neither the upload nor a published FLAC or MP3 is stored")
