"""`cadenza repackage`: a track published before CMAF (plain fMP4 HLS, no MPD, no FLAC stream) is
brought to the current packaging from its published media, without touching the AAC encodes; run
again, it does nothing; a protected track comes out encrypted."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import m3u8
from mpegdash.parser import MPEGDASHParser
from sqlalchemy import delete, select

from audio import make_audio
from cadenza.bootstrap import build_collaborators
from cadenza.catalog.models import DASH, FLAC_STREAM, Track, TrackVariant
from cadenza.config import Settings
from cadenza.db.engine import transaction
from cadenza.ingest import ffmpeg
from cadenza.ingest.service import accept_upload
from cadenza.protection import service as protection
from conftest import InlineRunner

OLD = "0000000000000000"


def _as_published_before_cmaf(c, track_id: int, root: Path) -> None:  # type: ignore[no-untyped-def]
    """Rewrite a fresh track into the v1 layout: the AAC renditions re-muxed into plain fMP4 HLS (as
    the seed's ffmpeg command wrote them), the downloads, no MPD, no FLAC stream, an older version."""
    with c.sessions() as s:
        track = s.get_one(Track, track_id)
        prefix = track.media_prefix
    old = f"tracks/{track_id}/{OLD}"
    for quality in ("aac_128", "aac_256", "aac_320"):
        src, dst = root / prefix / "hls" / quality, root / old / "hls" / quality
        dst.mkdir(parents=True)
        ffmpeg.run(["-i", str(src / "index.m3u8"), "-c", "copy", "-f", "hls", "-hls_playlist_type", "vod",
                    "-hls_time", "6", "-hls_segment_type", "fmp4",
                    "-hls_segment_filename", str(dst / "seg_%05d.m4s"), str(dst / "index.m3u8")])  # fmt: skip
    shutil.copytree(root / prefix / "download", root / old / "download")
    shutil.copyfile(root / prefix / "waveform.json", root / old / "waveform.json")
    shutil.rmtree(root / prefix)
    with transaction(c.sessions) as s:
        s.execute(
            delete(TrackVariant).where(
                TrackVariant.track_id == track_id, TrackVariant.quality.in_([DASH, FLAC_STREAM])
            )
        )
        for v in s.scalars(select(TrackVariant).where(TrackVariant.track_id == track_id)):
            v.storage_key = v.storage_key.replace(prefix, old)
            if v.quality.startswith("aac_"):
                v.container = "hls-fmp4"
        t = s.get_one(Track, track_id)
        t.media_prefix, t.waveform_key = old, f"{old}/waveform.json"


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CADENZA_DATA_DIR": str(tmp_path / "data"), "CADENZA_ENV": "test", "COLUMNS": "200"}
    env.pop("CADENZA_BROKER_URL", None)
    env.pop("CADENZA_DATABASE_URL", None)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parents[2] / "src"), env.get("PYTHONPATH", "")]
    )
    cadenza = shutil.which("cadenza", path=str(Path(sys.executable).parent)) or "cadenza"
    return subprocess.run([cadenza, "repackage", *args], env=env, capture_output=True, text=True, timeout=300)


def test_repackage_brings_an_old_track_to_cmaf_and_dash_then_encrypts_a_protected_one(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", env="test")
    c = build_collaborators(settings)
    root = settings.storage.local_root
    a = accept_upload(
        c, InlineRunner(c), path=make_audio(tmp_path / "a.flac", duration=14, seed=5), filename="a.flac"
    )
    b = accept_upload(
        c, InlineRunner(c), path=make_audio(tmp_path / "b.flac", duration=9, seed=6), filename="b.flac"
    )
    for t in (a, b):
        _as_published_before_cmaf(c, t.id, root)
    with c.sessions() as s:
        aac_before = s.get_one(Track, a.id).media_prefix
    pcm_before = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(root / aac_before / "hls/aac_256/index.m3u8"),
            "-f",
            "s16le",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout

    proc = _cli(tmp_path, "--all")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "tracks: 2" in proc.stdout and "remuxed: 2" in proc.stdout and "failed: 0" in proc.stdout

    with c.sessions() as s:
        track = s.get_one(Track, a.id)
        qualities = {v.quality: v.container for v in track.variants}
    assert qualities[DASH] == "mpd" and qualities["aac_128"] == "cmaf" and qualities[FLAC_STREAM] == "cmaf"
    assert OLD not in track.media_prefix and not (root / f"tracks/{a.id}/{OLD}").exists()  # old version gone
    version = root / track.media_prefix
    mpd = MPEGDASHParser.parse(str(version / "hls/manifest.mpd"))
    assert [r.id for r in mpd.periods[0].adaptation_sets[0].representations] == [
        "aac_128",
        "aac_256",
        "aac_320",
    ]
    assert (version / "manifest.mpd").is_file() and (version / "download/mp3_320.mp3").is_file()
    # the AAC audio is the same packets, re-muxed: it decodes to the same samples
    pcm_after = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(version / "hls/aac_256/index.m3u8"), "-f", "s16le", "-"],
        capture_output=True,
        check=True,
    ).stdout
    assert pcm_after == pcm_before
    init = version / "hls/aac_128" / m3u8.load(str(version / "hls/aac_128/index.m3u8")).segment_map[0].uri
    assert b"cmfc" in init.read_bytes()[:32]

    # resumable: a second run finds everything current
    again = _cli(tmp_path, "--all")
    assert again.returncode == 0 and "current: 2" in again.stdout, again.stdout

    # protected: the next run stores the track encrypted, from the clear CMAF, re-encoding nothing
    with transaction(c.sessions) as s:
        protection.set_policy(s, track_id=b.id, protected=True, by_user=None)
    third = _cli(tmp_path, str(b.id))
    assert third.returncode == 0 and "copied: 1" in third.stdout, third.stdout
    with c.sessions() as s:
        containers = {v.container for v in s.get_one(Track, b.id).variants}
        prefix = s.get_one(Track, b.id).media_prefix
    assert containers == {"cmaf-cenc", "mpd"}
    assert all(b"senc" in p.read_bytes() for p in (root / prefix).rglob("*.m4s"))
    assert not (root / prefix / "download").exists()


class _NoCache:
    def drop(self, key: int) -> None:
        return None


def test_a_track_taken_down_or_deleted_while_it_is_repackaged_stays_so(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """An administrator acts while `cadenza repackage` works on the track: publishing its new media must
    not make a taken-down track ready again, nor publish anything of a deleted one."""
    from datetime import UTC, datetime

    from cadenza.catalog import service as catalog
    from cadenza.catalog.models import TrackStatus
    from cadenza.ingest import pipeline, repackage

    settings = Settings(data_dir=tmp_path / "data", env="test")
    c = build_collaborators(settings)
    root = settings.storage.local_root
    ids = [
        accept_upload(
            c,
            InlineRunner(c),
            path=make_audio(tmp_path / f"{n}.flac", duration=7, seed=n),
            filename=f"{n}.flac",
        ).id
        for n in (21, 22)
    ]
    for tid in ids:
        _as_published_before_cmaf(c, tid, root)
    real_publish = pipeline.publish_result

    def admin_acts_first(c_, track_id, result, *, prefix):  # type: ignore[no-untyped-def]
        with transaction(c.sessions) as s:
            if track_id == ids[0]:
                catalog.take_down(s, track_id=track_id, reason="rights dispute", caches=_NoCache())
            else:
                catalog.delete_track(s, track_id=track_id, caches=_NoCache(), at=datetime.now(UTC))
        return real_publish(c_, track_id, result, prefix=prefix)

    monkeypatch.setattr(pipeline, "publish_result", admin_acts_first)
    outcomes = [repackage.repackage_track(c, track_id=tid) for tid in ids]
    with c.sessions() as s:
        down, gone = (s.get_one(Track, tid) for tid in ids)
    assert down.status == TrackStatus.taken_down  # its media moved to the new packaging, still withdrawn
    assert down.media_prefix and (root / down.media_prefix / "hls/manifest.mpd").is_file()
    assert outcomes[1].action == "failed" and "deleted" in (outcomes[1].error or "")
    assert gone.status == TrackStatus.deleted
    assert not list((root / f"tracks/{ids[1]}").rglob("manifest.mpd"))  # nothing of the new version is left
