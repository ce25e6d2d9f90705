"""The whole ingest pipeline on both databases, its outputs checked as an outside client would."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import m3u8
import pytest
from sqlalchemy import Engine, func, select

from audio import make_audio, transcode_file
from cadenza.bootstrap import build_collaborators
from cadenza.catalog.models import FingerprintKey, Track, TrackStatus
from cadenza.catalog.service import TrackMetadata
from cadenza.ingest import pipeline
from cadenza.ingest.service import accept_upload
from cadenza.search import service as search
from conftest import IdleRunner, InlineRunner, make_settings
from unit.test_validate import MALFORMED, src  # noqa: F401 (src is a fixture)


@pytest.fixture
def c(engine: Engine, db: tuple[Engine, str], tmp_path: Path) -> pipeline.Collaborators:
    return build_collaborators(make_settings(tmp_path / "data", db[1]), engine=engine, run_migrations=False)


def _ingest(c: pipeline.Collaborators, path: Path, **meta: object) -> Track:
    track = accept_upload(c, InlineRunner(c), path=path, filename=path.name, overrides=TrackMetadata(**meta))  # type: ignore[arg-type]
    with c.sessions() as s:
        t = s.get(Track, track.id)
        assert t is not None
        _ = (t.variants, t.artists)
        return t


def _decode_errors(path: Path) -> str:
    proc = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stderr.strip() if proc.returncode == 0 else f"exit {proc.returncode}: {proc.stderr}"


def test_lossless_upload_becomes_ready_with_every_output(c: pipeline.Collaborators, tmp_path: Path) -> None:
    source = make_audio(tmp_path / "song.flac", duration=20, seed=5)
    track = _ingest(c, source, title="Song", artists=["Ana", "Bo"], genre="Jazz", isrc="US-RC1-76-07839")
    assert track.status == TrackStatus.ready, track.failure_reason
    assert track.stage == pipeline.DONE
    assert track.isrc == "USRC17607839"
    assert [a.name for a in track.artists] == ["Ana", "Bo"]
    assert abs((track.duration_sec or 0) - 20) < 0.1
    assert {v.quality for v in track.variants} == {
        "aac_128", "aac_256", "aac_320", "mp3_320", "flac", "flac_stream", "dash",
    }  # fmt: skip
    assert track.hifi_unavailable_reason is None
    root = c.settings.storage.local_root
    assert root is not None and track.media_prefix
    master = root / track.media_prefix / "hls" / "master.m3u8"
    playlist = m3u8.load(str(master))
    assert playlist.is_variant and len(playlist.playlists) == 3
    for variant in playlist.playlists:
        info = variant.stream_info
        assert info.bandwidth and info.average_bandwidth and info.codecs == "mp4a.40.2"
    # an HLS client reads the published master and decodes everything without complaint
    assert _decode_errors(master) == ""
    for v in track.variants:
        assert (root / v.storage_key).is_file()
        assert v.size_bytes > 0 and len(v.checksum) == 64
    waveform = json.loads((root / track.media_prefix / "waveform.json").read_text())
    assert waveform["version"] == 2 and waveform["bits"] == 8
    assert abs(waveform["length"] - 20 * c.settings.ingest.waveform_pixels_per_second) <= 1
    with c.sessions() as s:
        assert s.scalar(select(func.count()).where(FingerprintKey.track_id == track.id))
    # nothing is left behind in the scratch space
    assert not (c.settings.work_path / str(track.id)).exists()
    # and the catalog search knows it as soon as it is ready
    with c.sessions() as s:
        hits = search.search(s, q="song", type="track").hits
        assert [h.id for h in hits] == [track.id] and hits[0].artists == ["Ana", "Bo"]


def test_lossy_upload_has_no_hifi_and_says_why(c: pipeline.Collaborators, tmp_path: Path) -> None:
    source = make_audio(tmp_path / "song.mp3", duration=12, seed=8)
    track = _ingest(c, source)
    assert track.status == TrackStatus.ready, track.failure_reason
    assert "flac" not in {v.quality for v in track.variants}
    assert track.hifi_unavailable_reason and "lossy" in track.hifi_unavailable_reason
    assert track.title == "song"  # no tags: the file name


def test_reencoded_copy_is_flagged_duplicate(c: pipeline.Collaborators, tmp_path: Path) -> None:
    original = make_audio(tmp_path / "orig.flac", duration=30, seed=21)
    copy = transcode_file(original, tmp_path / "copy.mp3", extra=["-ss", "1"])
    other = make_audio(tmp_path / "other.flac", duration=30, seed=22)
    first = _ingest(c, original)
    second = _ingest(c, copy)
    third = _ingest(c, other)
    assert first.duplicate_of is None
    assert second.duplicate_of == first.id and (second.duplicate_score or 0) > 0.75
    assert third.duplicate_of is None
    assert second.status == third.status == TrackStatus.ready


def test_garbage_fails_at_validate_and_leaves_nothing(c: pipeline.Collaborators, tmp_path: Path) -> None:
    bad = tmp_path / "noise.flac"
    bad.write_bytes(bytes(range(256)) * 64)
    track = _ingest(c, bad)
    assert track.status == TrackStatus.failed
    assert track.stage == "validate" and track.failure_reason
    assert track.source_key is None
    root = c.settings.storage.local_root
    assert root is not None
    assert [p for p in root.rglob("*") if p.is_file()] == []


def test_stages_are_idempotent_and_a_crash_in_publish_leaves_no_orphans(
    c: pipeline.Collaborators, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = make_audio(tmp_path / "song.wav", duration=10, seed=31)
    track = accept_upload(c, IdleRunner(), path=source, filename=source.name)
    for stage in ("validate", "transcode", "transcode", "waveform", "fingerprint", "fingerprint"):
        pipeline.run_stage(c, track.id, stage)
    # publish dies half-way (the store breaks after a few objects): the error propagates for a retry
    # and nothing it wrote stays behind
    real_put = c.store.put_file
    calls = {"n": 0}

    def flaky_put(key: str, path: Path, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError("disk went away")
        real_put(key, path, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(c.store, "put_file", flaky_put)
    with pytest.raises(OSError):
        pipeline.run_stage(c, track.id, "publish")
    root = c.settings.storage.local_root
    assert root is not None
    assert not (root / "tracks" / str(track.id)).exists()
    monkeypatch.setattr(c.store, "put_file", real_put)
    assert pipeline.run_stage(c, track.id, "publish") is None
    first = sorted(p.relative_to(root) for p in (root / "tracks").rglob("*") if p.is_file())
    # publishing again writes the same objects and nothing more
    pipeline.run_stage(c, track.id, "publish")
    with c.sessions() as s:
        t = s.get(Track, track.id)
        assert t is not None and t.status == TrackStatus.ready
    again = sorted(p.relative_to(root) for p in (root / "tracks").rglob("*") if p.is_file())
    assert first == again
    segments = [p for p in first if p.suffix == ".m4s"]
    assert segments and all(len(p.stem) >= 16 for p in segments)


def test_malformed_corpus_fails_with_reasons_and_publishes_nothing(
    engine: Engine,
    db: tuple[Engine, str],
    tmp_path: Path,
    src: dict[str, Path],  # noqa: F811
) -> None:
    cases = [m for m in MALFORMED if m[0] not in {"directory", "missing"}]
    assert len(cases) >= 15
    for name, builder, limits, words in cases:
        folder = tmp_path / name
        folder.mkdir()
        settings = make_settings(folder / "data", db[1], limits=limits.model_dump())
        c = build_collaborators(settings, engine=engine, run_migrations=False)
        upload = builder(src, folder)
        track = _ingest(c, upload)
        assert track.status == TrackStatus.failed, name
        assert track.stage == "validate", (name, track.stage)
        assert all(w in (track.failure_reason or "") for w in words), (name, track.failure_reason)
        assert track.variants == [] and track.media_prefix is None and track.source_key is None
        root = settings.storage.local_root
        assert root is not None
        assert [p for p in root.rglob("*") if p.is_file()] == [], name


def test_a_restarted_server_finishes_what_it_was_doing(c: pipeline.Collaborators, tmp_path: Path) -> None:
    from cadenza.ingest.runner import InProcessRunner

    first = accept_upload(
        c, IdleRunner(), path=make_audio(tmp_path / "a.flac", duration=5, seed=51), filename="a.flac"
    )
    second = accept_upload(
        c, IdleRunner(), path=make_audio(tmp_path / "b.wav", duration=5, seed=52), filename="b.wav"
    )
    pipeline.run_stage(c, second.id, "validate")
    pipeline.run_stage(c, second.id, "transcode")  # ...and this one died half-way through
    runner = InProcessRunner(c, workers=2)
    try:
        assert runner.resume_interrupted() == 2
        runner.wait(first.id, timeout=120)
        runner.wait(second.id, timeout=120)
    finally:
        runner.shutdown(wait=True)
    with c.sessions() as s:
        for track_id in (first.id, second.id):
            t = s.get(Track, track_id)
            assert t is not None and t.status == TrackStatus.ready, t and t.failure_reason
