"""Transcode stage: outputs checked as an outside client sees them (m3u8 parsing, ffmpeg decoding, fpcalc)."""

from __future__ import annotations

import hashlib
import math
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import m3u8
import pytest
from mutagen.flac import FLAC

from audio import make_audio
from cadenza.config import Ingest
from cadenza.errors import StageError
from cadenza.ingest import hls
from cadenza.ingest import transcode as tc

CFG = Ingest()
SEGMENT = CFG.hls_segment_sec
DURATION_TOLERANCE = 0.1  # seconds; AAC adds 1024 priming samples (23 ms) that fMP4 here does not trim


@dataclass(frozen=True)
class Case:
    source: Path
    result: tc.TranscodeResult
    sample_rate: int
    channels: int
    duration: float


def _transcode(
    tmp: Path,
    name: str,
    *,
    duration: float,
    sample_rate: int = 44_100,
    channels: int = 2,
    lossless: bool = True,
    bits: int | None = 16,
    extra: list[str] | None = None,
    seed: int = 3,
) -> Case:
    source = make_audio(
        tmp / name, duration=duration, sample_rate=sample_rate, channels=channels, extra=extra, seed=seed
    )
    result = tc.transcode(
        source,
        sample_rate=sample_rate,
        channels=channels,
        lossless=lossless,
        bits_per_sample=bits,
        duration_sec=duration,
        out_dir=tmp / f"out_{name}",
        cfg=CFG,
    )
    return Case(source, result, sample_rate, channels, duration)


def _decode(path: Path, *args: str) -> bytes:
    """Decode fully with ffmpeg as a client would; any error output fails the test."""
    proc = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), *args, "-f", "s16le", "-ac", "1", "-"],
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0 and not proc.stderr, proc.stderr.decode(errors="replace")
    return proc.stdout


def _decoded_seconds(path: Path, sample_rate: int) -> float:
    return len(_decode(path)) / 2 / sample_rate


def _stream(path: Path) -> dict[str, str]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
         "stream=codec_name,sample_rate,channels,sample_fmt,bits_per_raw_sample",
         "-of", "default=nw=1", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def _pcm_md5(path: Path, fmt: str) -> str:
    out = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0", "-f", fmt, "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return hashlib.sha256(out).hexdigest()


@pytest.fixture(scope="module")
def stereo(tmp_path_factory: pytest.TempPathFactory) -> Case:
    """30 s of 16-bit stereo 44.1 kHz 'music' in FLAC: the common case, shared by most checks."""
    return _transcode(tmp_path_factory.mktemp("stereo"), "song.flac", duration=30)


@pytest.fixture(scope="module")
def others(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Case]:
    """The other source shapes: a lossy MP3, mono 48 kHz WAV, 24-bit 96 kHz FLAC."""
    tmp = tmp_path_factory.mktemp("others")
    return {
        "mp3": _transcode(tmp, "lossy.mp3", duration=20, lossless=False, bits=None),
        "mono48": _transcode(tmp, "mono.wav", duration=20, sample_rate=48_000, channels=1),
        "hires": _transcode(
            tmp, "hires.flac", duration=15, sample_rate=96_000, bits=24, extra=["-sample_fmt", "s32"]
        ),
    }


# --- the common case -------------------------------------------------------------------------------


def test_layout_and_result(stereo: Case) -> None:
    r, out = stereo.result, stereo.result.out_dir
    assert r.master_playlist == "hls/master.m3u8"
    assert r.mp3 == "download/mp3_320.mp3" and r.flac == "download/hifi.flac"
    assert r.flac_skipped_reason is None
    assert (r.peaks, r.fingerprint) == ("analysis/peaks.bin", "analysis/fingerprint.raw")
    for rel in (r.master_playlist, r.mp3, r.flac, r.peaks, r.fingerprint):
        assert (out / rel).is_file() and (out / rel).stat().st_size > 0
    assert [x.name for x in r.renditions] == ["aac_128", "aac_256", "aac_320"]
    assert [x.playlist for x in r.renditions] == [f"hls/aac_{k}/index.m3u8" for k in (128, 256, 320)]
    # Nothing but the output dir (and its source) is left beside it: the temp dir was renamed into place.
    assert sorted(p.name for p in out.parent.iterdir()) == ["out_song.flac", "song.flac"]
    assert r.duration_sec == pytest.approx(stereo.duration, abs=1 / stereo.sample_rate)


def test_master_playlist(stereo: Case) -> None:
    master_path = stereo.result.out_dir / "hls/master.m3u8"
    text = master_path.read_text()
    assert "#EXT-X-INDEPENDENT-SEGMENTS" in text and "#EXT-X-VERSION:7" in text
    master = m3u8.load(str(master_path))
    assert master.is_variant and len(master.playlists) == 3
    bandwidths = []
    for variant, rendition in zip(master.playlists, stereo.result.renditions, strict=True):
        info = variant.stream_info
        assert info.codecs == "mp4a.40.2"
        assert info.bandwidth == rendition.peak_bandwidth
        assert info.average_bandwidth == rendition.average_bandwidth
        assert info.average_bandwidth <= info.bandwidth
        assert (master_path.parent / variant.uri).resolve() == (
            stereo.result.out_dir / rendition.playlist
        ).resolve()
        bandwidths.append(info.bandwidth)
    assert bandwidths == sorted(bandwidths)


def test_variant_playlists_use_content_hashes(stereo: Case) -> None:
    for rendition in stereo.result.renditions:
        path = stereo.result.out_dir / rendition.playlist
        playlist = m3u8.load(str(path))
        assert playlist.playlist_type == "vod" and playlist.is_endlist
        assert playlist.is_independent_segments
        assert playlist.target_duration == SEGMENT
        assert len(playlist.segments) == rendition.segment_count
        init_uris = {seg.init_section.uri for seg in playlist.segments}
        assert len(init_uris) == 1
        files = [*init_uris, *(seg.uri for seg in playlist.segments)]
        for uri in files:
            data = (path.parent / uri).read_bytes()
            ext = ".mp4" if uri in init_uris else ".m4s"
            assert uri == hashlib.sha256(data).hexdigest()[:16] + ext
        for seg in playlist.segments:
            assert seg.duration <= SEGMENT + 0.5
        # Only the playlist and what it references are left in the directory.
        assert sorted(p.name for p in path.parent.iterdir()) == sorted({"index.m3u8", *files})


def test_every_variant_decodes_fully(stereo: Case) -> None:
    out = stereo.result.out_dir
    for rendition in stereo.result.renditions:
        seconds = _decoded_seconds(out / rendition.playlist, stereo.sample_rate)
        assert seconds == pytest.approx(stereo.duration, abs=DURATION_TOLERANCE)
    # Through the master too (ffmpeg picks a variant; the extensions pass its allow-list).
    assert _decoded_seconds(out / "hls/master.m3u8", stereo.sample_rate) == pytest.approx(
        stereo.duration, abs=DURATION_TOLERANCE
    )


def test_aac_bitrates_are_nominal(stereo: Case) -> None:
    out = stereo.result.out_dir
    for rendition in stereo.result.renditions:
        playlist = m3u8.load(str(out / rendition.playlist))
        media_bytes = sum(
            (out / rendition.playlist).parent.joinpath(s.uri).stat().st_size for s in playlist.segments
        )
        kbps = media_bytes * 8 / stereo.duration / 1000
        assert kbps == pytest.approx(rendition.bitrate_kbps, rel=0.10), rendition.name
        assert rendition.average_bandwidth == pytest.approx(kbps * 1000, rel=0.01)
        assert rendition.peak_bandwidth >= rendition.average_bandwidth
        assert _stream(out / rendition.playlist)["sample_rate"] == "44100"


def test_mp3_download(stereo: Case) -> None:
    path = stereo.result.out_dir / stereo.result.mp3
    info = _stream(path)
    assert (info["codec_name"], info["sample_rate"], info["channels"]) == ("mp3", "44100", "2")
    kbps = path.stat().st_size * 8 / stereo.duration / 1000
    assert kbps == pytest.approx(320, rel=0.10)
    assert _decoded_seconds(path, stereo.sample_rate) == pytest.approx(
        stereo.duration, abs=DURATION_TOLERANCE
    )


def test_flac_is_bit_exact(stereo: Case) -> None:
    flac = stereo.result.out_dir / "download/hifi.flac"
    info = _stream(flac)
    assert (info["sample_rate"], info["channels"], info["bits_per_raw_sample"]) == ("44100", "2", "16")
    assert _pcm_md5(flac, "s16le") == _pcm_md5(stereo.source, "s16le")
    # One encode feeds both the stream and this file (ffmpeg's tee): the file's STREAMINFO still carries
    # the encoder's final figures, which a player's seek bar and `flac -t` rely on.
    streaminfo = FLAC(flac).info
    assert streaminfo.total_samples == round(stereo.duration * 44_100)
    pcm = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(flac), "-f", "s16le", "-"],
        capture_output=True,
        check=True,
    ).stdout
    assert streaminfo.md5_signature == int(hashlib.md5(pcm).hexdigest(), 16)


def test_fingerprint_matches_fpcalc(stereo: Case) -> None:
    ours = tc.read_fingerprint(stereo.result.out_dir / stereo.result.fingerprint)
    out = subprocess.run(
        ["fpcalc", "-raw", "-length", "0", str(stereo.source)], capture_output=True, text=True, check=False
    ).stdout
    fields = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    theirs = [int(x) for x in fields["FINGERPRINT"].split(",")]
    assert ours.tolist() == theirs
    # One item per 4096/3 samples at 11025 Hz (~8.07/s), less ~20 that the filters need at the edges.
    assert len(ours) == pytest.approx(stereo.duration * 11_025 * 3 / 4096 - 20, abs=5)


# --- other source shapes ---------------------------------------------------------------------------


def test_lossy_source_gets_no_flac(others: dict[str, Case]) -> None:
    case = others["mp3"]
    assert case.result.flac is None
    assert case.result.flac_skipped_reason == "source is lossy (mp3); a FLAC made from it would not be hi-fi"
    assert not (case.result.out_dir / "download/hifi.flac").exists()
    assert _decoded_seconds(case.result.out_dir / case.result.mp3, 44_100) == pytest.approx(
        case.duration, abs=DURATION_TOLERANCE
    )
    for rendition in case.result.renditions:
        kbps = rendition.average_bandwidth / 1000
        assert kbps == pytest.approx(rendition.bitrate_kbps, rel=0.10)


def test_mono_48k_stays_mono_48k(others: dict[str, Case]) -> None:
    case = others["mono48"]
    out = case.result.out_dir
    for rendition in case.result.renditions:
        info = _stream(out / rendition.playlist)
        assert (info["sample_rate"], info["channels"]) == ("48000", "1")
        assert _decoded_seconds(out / rendition.playlist, 48_000) == pytest.approx(
            case.duration, abs=DURATION_TOLERANCE
        )
    # AAC-LC mono tops out near 6144 bits per frame, so only 128k can reach its nominal rate.
    aac128 = next(r for r in case.result.renditions if r.bitrate_kbps == 128)
    assert aac128.average_bandwidth / 1000 == pytest.approx(128, rel=0.10)
    mp3 = _stream(out / case.result.mp3)
    assert (mp3["sample_rate"], mp3["channels"]) == ("48000", "1")
    flac = _stream(out / "download/hifi.flac")
    assert (flac["sample_rate"], flac["channels"], flac["bits_per_raw_sample"]) == ("48000", "1", "16")
    assert case.result.duration_sec == pytest.approx(case.duration, abs=1e-4)


def test_hires_source(others: dict[str, Case]) -> None:
    case = others["hires"]
    out = case.result.out_dir
    for rendition in case.result.renditions:
        info = _stream(out / rendition.playlist)
        assert (info["sample_rate"], info["channels"]) == ("48000", "2")
        assert rendition.average_bandwidth / 1000 == pytest.approx(rendition.bitrate_kbps, rel=0.10)
    assert _stream(out / case.result.mp3)["sample_rate"] == "48000"
    flac = out / "download/hifi.flac"
    info = _stream(flac)
    assert (info["sample_rate"], info["sample_fmt"], info["bits_per_raw_sample"]) == ("96000", "s32", "24")
    assert _pcm_md5(flac, "s32le") == _pcm_md5(case.source, "s32le")
    assert _decoded_seconds(flac, 96_000) == pytest.approx(case.duration, abs=1e-4)


# --- failures and re-runs --------------------------------------------------------------------------


def test_undecodable_source_fails_cleanly(tmp_path: Path) -> None:
    source = tmp_path / "junk.flac"
    source.write_bytes(b"fLaC" + bytes(range(256)) * 64)
    with pytest.raises(StageError) as err:
        tc.transcode(
            source, sample_rate=44_100, channels=2, lossless=True, bits_per_sample=16,
            duration_sec=3.0, out_dir=tmp_path / "out", cfg=CFG,
        )  # fmt: skip
    assert err.value.stage == "transcode"
    assert "ffmpeg" in err.value.reason
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.flac"]


def test_one_encoder_failing_stops_the_other(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = make_audio(tmp_path / "s.flac", duration=60)
    real = tc._lossy_output

    def broken_mp3(plan: tc._Plan, job: tc._Job, label: str, work: Path) -> list[str]:
        args = real(plan, job, label, work)
        return [a if a != "libmp3lame" else "no_such_encoder" for a in args]

    monkeypatch.setattr(tc, "_lossy_output", broken_mp3)
    with pytest.raises(StageError) as err:
        tc.transcode(
            source, sample_rate=44_100, channels=2, lossless=True, bits_per_sample=16,
            duration_sec=60, out_dir=tmp_path / "out", cfg=CFG,
        )  # fmt: skip
    assert "no_such_encoder" in err.value.reason
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.flac"]


def test_rerun_replaces_output(tmp_path: Path) -> None:
    first = _transcode(tmp_path, "short.flac", duration=8, channels=1)
    (first.result.out_dir / "stale.txt").write_text("from an older run")
    names = sorted(p.name for p in first.result.out_dir.rglob("*"))
    second = tc.transcode(
        first.source, sample_rate=44_100, channels=1, lossless=True, bits_per_sample=16,
        duration_sec=8, out_dir=first.result.out_dir, cfg=CFG,
    )  # fmt: skip
    assert not (second.out_dir / "stale.txt").exists()
    # Same input, same bytes: the content-hashed names come out identical.
    assert sorted(p.name for p in second.out_dir.rglob("*")) == [n for n in names if n != "stale.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out_short.flac", "short.flac"]


# --- planning and bandwidth math -------------------------------------------------------------------


def test_lossy_sample_rate() -> None:
    cases = {44_100: 44_100, 48_000: 48_000, 96_000: 48_000, 88_200: 48_000, 192_000: 48_000,
             32_000: 44_100, 22_050: 44_100, 8_000: 44_100}  # fmt: skip
    assert {sr: tc.lossy_sample_rate(sr) for sr in cases} == cases


def test_flac_bits() -> None:
    assert [tc.flac_bits(b) for b in (8, 16, 24, 32, None)] == [16, 16, 24, 24, 24]


def test_plan_spreads_encoders_over_two_processes(tmp_path: Path) -> None:
    plan = tc._plan(tmp_path / "x.flac", 44_100, 2, True, 16, CFG)
    assert len(plan.jobs) == 2
    groups = [sorted((j.kind, j.bitrate_kbps) for j in jobs) for jobs in plan.jobs]
    aac = [sum(kind == "aac" for kind, _ in g) for g in groups]
    assert sorted(aac) == [1, 2]  # the three heaviest encoders are not stacked on one core
    single = next(g for g in groups if sum(kind == "aac" for kind, _ in g) == 1)
    # The single AAC takes the MP3, the loudness tap and the FLAC; the pair takes the fingerprint and PCM.
    assert {("mp3", 320), ("loudness", 0), ("flac", 0)} <= set(single)
    loads = [sum(j.cost for j in jobs) for jobs in plan.jobs]
    assert max(loads) / min(loads) < 1.15
    lossy = tc._plan(tmp_path / "x.mp3", 44_100, 2, False, None, CFG)
    assert not any(j.kind == "flac" for jobs in lossy.jobs for j in jobs)


def test_peak_bandwidth_merges_short_tail() -> None:
    durations = [6.0, 6.0, 0.02]
    sizes = [96_000, 99_000, 600]
    peak = hls.peak_bandwidth(durations, sizes, init_size=800, target=6.0)
    # The 20 ms tail alone would be 560 kbit/s; it only counts together with its neighbour.
    assert peak == math.ceil((99_000 + 600 + 800) * 8 / 6.02)
    assert peak < 140_000
    assert hls.average_bandwidth(durations, sizes) == math.ceil(sum(sizes) * 8 / sum(durations))
    # A track shorter than half a segment is a single window.
    assert hls.peak_bandwidth([2.0], [30_000], init_size=800, target=6.0) == math.ceil(30_800 * 8 / 2.0)


def test_tools_are_installed() -> None:
    for tool in ("ffmpeg", "ffprobe", "fpcalc"):
        assert shutil.which(tool), f"{tool} missing: run scripts/setup.sh"
