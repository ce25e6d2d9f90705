"""The validate stage: accepted formats are described correctly, malformed uploads get specific reasons."""

from __future__ import annotations

import gzip
import json
import random
import resource
import struct
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from audio import make_audio
from cadenza.config import Limits
from cadenza.errors import StageError
from cadenza.ingest import ffmpeg
from cadenza.ingest.validate import SourceInfo, validate

LIMITS = Limits()
DURATION = 3.0


def _ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly for test fixtures."""
    subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


def _has_encoder(name: str) -> bool:
    """Whether this ffmpeg build can encode with `name`."""
    out = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    return any(line.split()[1:2] == [name] for line in out.splitlines() if line.strip())


def _children_cpu_sec() -> float:
    """CPU seconds used by finished child processes: unlike wall time, not inflated by a busy machine."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _rejection(path: Path, limits: Limits = LIMITS) -> StageError:
    """The StageError validate raises for `path`."""
    with pytest.raises(StageError) as info:
        validate(path, limits)
    assert info.value.stage == "validate"
    return info.value


# ---------------------------------------------------------------------------------------------- accepted


ACCEPTED = [
    # name, extra encoder args, sample rate, channels, codec, lossless, bits per sample
    ("s16.flac", ["-sample_fmt", "s16"], 44100, 2, "flac", True, 16),
    ("s24.flac", ["-sample_fmt", "s32"], 48000, 1, "flac", True, 24),
    ("s16.wav", [], 44100, 2, "pcm_s16le", True, 16),
    ("s24.wav", ["-c:a", "pcm_s24le"], 48000, 1, "pcm_s24le", True, 24),
    ("a.aiff", [], 44100, 1, "pcm_s16be", True, 16),
    ("stereo.mp3", [], 44100, 2, "mp3", False, None),
    ("mono.mp3", [], 48000, 1, "mp3", False, None),
    ("stereo.m4a", [], 48000, 2, "aac", False, None),
    ("mono.m4a", [], 44100, 1, "aac", False, None),
    ("adts.aac", [], 44100, 2, "aac", False, None),
    ("opus.ogg", [], 48000, 2, "opus", False, None),
    ("mono.opus", [], 48000, 1, "opus", False, None),
    ("stereo.alac.m4a", [], 44100, 2, "alac", True, 24),
    ("mono.alac.m4a", ["-sample_fmt", "s16p"], 48000, 1, "alac", True, 16),
]
CONTAINERS = {".flac": "flac", ".wav": "wav", ".aiff": "aiff", ".mp3": "mp3", ".m4a": "mp4", ".aac": "aac"}


@pytest.mark.parametrize(
    ("name", "extra", "rate", "channels", "codec", "lossless", "bits"), ACCEPTED, ids=[a[0] for a in ACCEPTED]
)
def test_accepts_supported_formats(
    tmp_path: Path,
    name: str,
    extra: list[str],
    rate: int,
    channels: int,
    codec: str,
    lossless: bool,
    bits: int | None,
) -> None:
    path = make_audio(tmp_path / name, duration=DURATION, sample_rate=rate, channels=channels, extra=extra)
    info = validate(path, LIMITS)
    assert isinstance(info, SourceInfo)
    assert info.codec == codec
    assert info.container == CONTAINERS.get(path.suffix, "ogg")
    assert info.sample_rate == rate
    assert info.channels == channels
    assert info.lossless is lossless
    assert info.bits_per_sample == bits
    assert info.duration_sec == pytest.approx(DURATION, abs=0.1)
    assert info.bit_rate is None or info.bit_rate > 0


@pytest.mark.skipif(not _has_encoder("libvorbis"), reason="ffmpeg built without libvorbis")
def test_accepts_ogg_vorbis(tmp_path: Path) -> None:
    path = make_audio(tmp_path / "v.ogg", duration=DURATION, extra=["-c:a", "libvorbis", "-q:a", "4"])
    info = validate(path, LIMITS)
    assert (info.container, info.codec, info.lossless) == ("ogg", "vorbis", False)
    assert info.duration_sec == pytest.approx(DURATION, abs=0.1)


def test_reads_tags_lower_cased(tmp_path: Path) -> None:
    meta = {"TITLE": "Night Drive", "ARTIST": "Ada", "album": "Roads", "ISRC": "GBAYE0000001", "track": "3"}
    extra = [arg for key, value in meta.items() for arg in ("-metadata", f"{key}={value}")]
    info = validate(make_audio(tmp_path / "t.flac", duration=DURATION, extra=extra), LIMITS)
    assert {k: info.tags[k] for k in ("title", "artist", "album", "isrc", "track")} == {
        "title": "Night Drive",
        "artist": "Ada",
        "album": "Roads",
        "isrc": "GBAYE0000001",
        "track": "3",
    }


@pytest.mark.parametrize("suffix", [".mp3", ".flac", ".m4a"])
def test_accepts_attached_cover_art(tmp_path: Path, suffix: str) -> None:
    audio = make_audio(tmp_path / f"plain{suffix}", duration=DURATION)
    cover = tmp_path / "cover.jpg"
    _ffmpeg("-f", "lavfi", "-i", "color=red:s=64x64", "-frames:v", "1", str(cover))
    path = tmp_path / f"covered{suffix}"
    _ffmpeg("-i", str(audio), "-i", str(cover), "-map", "0", "-map", "1", "-c", "copy",
            "-disposition:v", "attached_pic", str(path))  # fmt: skip
    info = validate(path, LIMITS)
    assert info.duration_sec == pytest.approx(DURATION, abs=0.1)


def test_goes_by_content_not_extension(tmp_path: Path) -> None:
    mp3 = make_audio(tmp_path / "real.mp3", duration=DURATION)
    disguised = tmp_path / "disguised.flac"
    disguised.write_bytes(mp3.read_bytes())
    info = validate(disguised, LIMITS)
    assert (info.container, info.codec) == ("mp3", "mp3")


@pytest.mark.parametrize("suffix", [".mp3", ".aac"])
def test_junk_after_the_last_lossy_frame_is_tolerated(tmp_path: Path, suffix: str) -> None:
    path = make_audio(tmp_path / f"tail{suffix}", duration=5)
    with path.open("ab") as fh:
        fh.write(random.Random(7).randbytes(2000))
    info = validate(path, Limits())
    assert abs(info.duration_sec - 5) < 0.2


def test_mp3_without_xing_header_is_not_mistaken_for_truncated(tmp_path: Path) -> None:
    # VBR without a Xing header: ffprobe guesses the length from the first frame's bit rate.
    path = make_audio(tmp_path / "vbr.mp3", duration=DURATION, extra=["-q:a", "2", "-write_xing", "0"])
    assert validate(path, LIMITS).duration_sec == pytest.approx(DURATION, abs=0.1)


def test_decoding_four_minutes_of_flac_is_fast(tmp_path: Path) -> None:
    path = make_audio(tmp_path / "long.flac", duration=240, kind="noise")
    before = _children_cpu_sec()
    info = validate(path, LIMITS)
    assert _children_cpu_sec() - before < 1.0
    assert info.duration_sec == pytest.approx(240, abs=0.1)


# --------------------------------------------------------------------------------------------- rejected


_S16 = ["-sample_fmt", "s16"]


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Valid 3 s sources, made once, that the malformed cases cut, pad and forge."""
    root = tmp_path_factory.mktemp("sources")
    names = ["flac", "mp3", "wav", "m4a", "aac", "ogg"]
    made = {
        n: make_audio(root / f"src.{n}", duration=DURATION, extra=_S16 if n == "flac" else None)
        for n in names
    }
    made["mp3_vbr"] = make_audio(root / "vbr.mp3", duration=DURATION, extra=["-q:a", "2"])
    made["flac_96k"] = make_audio(root / "hi.flac", duration=DURATION, sample_rate=96000)
    made["flac_6ch"] = make_audio(root / "surround.flac", duration=DURATION, channels=6)
    return made


Builder = Callable[[dict[str, Path], Path], Path]


def _write(tmp: Path, name: str, data: bytes) -> Path:
    """Write `data` to tmp/name."""
    path = tmp / name
    path.write_bytes(data)
    return path


def _noise(n: int, seed: int = 7) -> bytes:
    """Deterministic random bytes."""
    return random.Random(seed).randbytes(n)


def _truncated(kind: str) -> Builder:
    """The first half of a valid file."""

    def build(src: dict[str, Path], tmp: Path) -> Path:
        data = src[kind].read_bytes()
        return _write(tmp, f"cut.{kind.split('_')[0]}", data[: len(data) // 2])

    return build


def _damaged(kind: str) -> Builder:
    """A valid file with 4 KiB of random bytes written over its middle."""

    def build(src: dict[str, Path], tmp: Path) -> Path:
        data = bytearray(src[kind].read_bytes())
        mid = len(data) // 2
        data[mid : mid + 4096] = _noise(4096)
        return _write(tmp, f"damaged.{kind}", bytes(data))

    return build


def _wav_header(*, data_bytes: int, sample_rate: int = 44100, channels: int = 2, fmt_tag: int = 1) -> bytes:
    """A canonical 44-byte 16-bit WAV header claiming `data_bytes` of audio."""
    block = channels * 2
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        *(b"RIFF", 36 + data_bytes, b"WAVE"),
        *(b"fmt ", 16, fmt_tag, channels, sample_rate, sample_rate * block, block, 16),
        *(b"data", data_bytes),
    )


def _wav(seconds_held: float, *, declared_sec: float | None = None, **fmt: int) -> Builder:
    """A WAV holding `seconds_held` of noise whose header declares `declared_sec` (default: the truth)."""

    def build(src: dict[str, Path], tmp: Path) -> Path:
        rate, channels = fmt.get("sample_rate", 44100), fmt.get("channels", 2)
        held = int(seconds_held * rate) * channels * 2
        declared = held if declared_sec is None else int(declared_sec * rate) * channels * 2
        return _write(tmp, "forged.wav", _wav_header(data_bytes=declared, **fmt) + _noise(held))

    return build


def _ffmpeg_made(name: str, *args: str) -> Builder:
    """A file made by one ffmpeg command writing tmp/name."""

    def build(src: dict[str, Path], tmp: Path) -> Path:
        _ffmpeg(*args, str(tmp / name))
        return tmp / name

    return build


def _subtitles_only(src: dict[str, Path], tmp: Path) -> Path:
    """A Matroska file with one SubRip track."""
    srt = _write(tmp, "lyrics.srt", b"1\n00:00:01,000 --> 00:00:02,000\nla la la\n\n")
    _ffmpeg("-i", str(srt), "-c:s", "srt", str(tmp / "lyrics.mkv"))
    return tmp / "lyrics.mkv"


def _zip(src: dict[str, Path], tmp: Path) -> Path:
    """A zip archive holding a FLAC (a common mistaken upload)."""
    with zipfile.ZipFile(tmp / "album.zip", "w") as z:
        z.write(src["flac"], "01.flac")
    return tmp / "album.zip"


def _midi(src: dict[str, Path], tmp: Path) -> Path:
    """A minimal Standard MIDI File: one track, one note."""
    track = bytes.fromhex("00903c40 60803c40 00ff2f00")
    data = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 96) + b"MTrk" + struct.pack(">I", len(track)) + track
    return _write(tmp, "song.mid", data)


def _directory(src: dict[str, Path], tmp: Path) -> Path:
    """A directory with an audio file's name."""
    (tmp / "folder.flac").mkdir()
    return tmp / "folder.flac"


def _copy_as(kind: str, name: str) -> Builder:
    """A valid source under another name."""
    return lambda src, tmp: _write(tmp, name, src[kind].read_bytes())


TINY = Limits(max_upload_bytes=10_000)
HIRES_CAP = Limits(max_sample_rate=48_000)
STEREO_CAP = Limits(max_channels=2)
SHORT_CAP = Limits(max_duration_sec=1.5)

MALFORMED: list[tuple[str, Builder, Limits, list[str]]] = [
    # id, builder, limits, words the reason must contain
    ("empty", lambda s, t: _write(t, "empty.flac", b""), LIMITS, ["file is empty"]),
    ("random-bytes.flac", lambda s, t: _write(t, "x.flac", _noise(50_000)), LIMITS, ["not an audio file"]),
    ("text", lambda s, t: _write(t, "notes.txt", b"hello\nthis is not music\n" * 40), LIMITS,
     ["not an audio file"]),
    ("text-named.mp3", lambda s, t: _write(t, "song.mp3", b"hello\nthis is not music\n" * 40), LIMITS,
     ["not an audio file"]),
    ("jpeg", _ffmpeg_made("cover.jpg", "-f", "lavfi", "-i", "color=red:s=64x64", "-frames:v", "1"), LIMITS,
     ["not an audio file", "image"]),
    ("png-named.wav", _ffmpeg_made("img.wav", "-f", "lavfi", "-i", "color=blue:s=32x32", "-frames:v", "1",
                                   "-c:v", "png", "-f", "image2"), LIMITS, ["not an audio file", "image"]),
    ("zip", _zip, LIMITS, ["not an audio file"]),
    ("gzip", lambda s, t: _write(t, "song.flac.gz", gzip.compress(s["flac"].read_bytes())), LIMITS,
     ["not an audio file"]),
    ("midi", _midi, LIMITS, ["not an audio file"]),
    ("video-only", _ffmpeg_made("clip.mp4", "-f", "lavfi", "-i", "testsrc=d=2:s=64x64", "-c:v", "mpeg4"),
     LIMITS, ["no audio stream", "video"]),
    ("subtitles-only", _subtitles_only, LIMITS, ["no audio stream", "subtitles"]),
    ("truncated-flac", _truncated("flac"), LIMITS, ["truncated or corrupt"]),
    ("truncated-mp3", _truncated("mp3"), LIMITS, ["truncated or corrupt"]),
    ("truncated-vbr-mp3", _truncated("mp3_vbr"), LIMITS, ["truncated or corrupt"]),
    ("truncated-m4a", _truncated("m4a"), LIMITS, ["truncated or corrupt", "moov"]),
    ("truncated-adts", _truncated("aac"), LIMITS, ["truncated or corrupt"]),
    ("truncated-ogg", _truncated("ogg"), LIMITS, ["truncated or corrupt", "Ogg"]),
    ("truncated-wav", _truncated("wav"), LIMITS, ["truncated or corrupt", "declares 3.0 s", "only 1.5 s"]),
    ("damaged-flac", _damaged("flac"), LIMITS, ["truncated or corrupt"]),
    ("damaged-mp3", _damaged("mp3"), LIMITS, ["truncated or corrupt"]),
    ("damaged-m4a", _damaged("m4a"), LIMITS, ["truncated or corrupt"]),
    ("damaged-ogg", _damaged("ogg"), LIMITS, ["truncated or corrupt"]),
    ("header-only-wav", lambda s, t: _write(t, "h.wav", _wav_header(data_bytes=0)), LIMITS, ["zero length"]),
    ("header-only-wav-claiming-audio", _wav(0, declared_sec=3), LIMITS, ["truncated", "holds only 0.0 s"]),
    ("wav-declaring-3h-holding-1s", _wav(1, declared_sec=3 * 3600), LIMITS, ["truncated", "3 h 0 min"]),
    ("too-short", lambda s, t: make_audio(t / "blip.flac", duration=0.2), LIMITS,
     ["duration 0.2 s is under the 1 s minimum"]),
    ("over-size-limit", _copy_as("flac", "big.flac"), TINY, ["file is", "over the 9.8 KB limit"]),
    ("sample-rate-over-limit", _copy_as("flac_96k", "hi.flac"), HIRES_CAP,
     ["sample rate 96000 Hz is out of range"]),
    ("sample-rate-forged-1MHz", _wav(0.1, sample_rate=1_000_000), LIMITS,
     ["sample rate 1000000 Hz is out of range"]),
    ("sample-rate-too-low", _wav(2, sample_rate=4000), LIMITS, ["sample rate 4000 Hz is out of range"]),
    ("too-many-channels", _copy_as("flac_6ch", "s.flac"), STEREO_CAP, ["6 channels is over the limit of 2"]),
    ("zero-channels", _wav(1, channels=0), LIMITS, ["no audio channels"]),
    # ADTS AAC declares no exact length, so only the (capped) decode can find it too long
    ("over-duration-when-decoded", _copy_as("aac", "long.aac"), SHORT_CAP,
     ["duration is over the 1.5 s limit"]),
    ("unsupported-codec-ac3", _ffmpeg_made("x.ac3", "-f", "lavfi", "-i", "sine=d=2", "-c:a", "ac3"), LIMITS,
     ["unsupported audio codec 'ac3'"]),
    ("unknown-wav-codec", _wav(2, fmt_tag=0x1234), LIMITS, ["unsupported audio codec"]),
    ("directory", _directory, LIMITS, ["not a regular file"]),
    ("missing", lambda s, t: t / "gone.flac", LIMITS, ["file not found"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("builder", "limits", "words"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_rejects_malformed_upload(
    src: dict[str, Path], tmp_path: Path, builder: Builder, limits: Limits, words: list[str]
) -> None:
    error = _rejection(builder(src, tmp_path), limits)
    for word in words:
        assert word in error.reason


def test_three_hour_file_is_rejected_from_its_header_without_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "long.flac"
    # big anullsrc frames make 3 h of 8 kHz silence in well under a second (2 MB of FLAC)
    silence = "anullsrc=r=8000:cl=mono:nb_samples=32768"
    _ffmpeg("-f", "lavfi", "-i", silence, "-t", "10800", "-sample_fmt", "s16", str(path))

    def no_decoding(*args: object, **kwargs: object) -> str:
        raise AssertionError("validate decoded a file its header already rules out")

    monkeypatch.setattr(ffmpeg, "run", no_decoding)
    assert _rejection(path).reason == "duration 3 h 0 min is over the 2 h limit"


# ------------------------------------------------------------------------------------- tool misbehaviour


def _fake_probe(result: object) -> Callable[..., object]:
    """A stand-in for ffmpeg.probe_report that returns or raises `result`."""

    def fake(path: Path, *, timeout: float = 60) -> object:
        if isinstance(result, BaseException):
            raise result
        return result, ""

    return fake


@pytest.mark.parametrize(
    ("result", "words", "retryable"),
    [
        (subprocess.TimeoutExpired("ffprobe", 30), ["took over 30 s"], True),
        (json.JSONDecodeError("Expecting value", "{", 1), ["not an audio file"], False),
        (ffmpeg.FFmpegError(1, "x: Invalid data found when processing input"), ["not an audio file"], False),
        (FileNotFoundError("ffprobe"), ["ffprobe could not be run"], True),
        (RuntimeError("boom"), ["could not check the file", "boom"], False),
        (["not", "a", "dict"], ["not an audio file"], False),
        ({"streams": "garbage", "format": 3}, ["not an audio file"], False),
        ({"streams": 7, "format": None}, ["not an audio file"], False),
        ({"streams": [{"codec_type": "audio", "codec_name": "flac", "sample_rate": "N/A"}]},
         ["sample rate is missing"], False),
    ],
    ids=["timeout", "bad-json", "ffprobe-error", "no-ffprobe", "crash", "list", "junk-fields", "int-streams",
         "no-rate"],
)  # fmt: skip
def test_probe_failures_become_stage_errors(
    src: dict[str, Path], monkeypatch: pytest.MonkeyPatch, result: object, words: list[str], retryable: bool
) -> None:
    monkeypatch.setattr(ffmpeg, "probe_report", _fake_probe(result))
    error = _rejection(src["flac"])
    for word in words:
        assert word in error.reason
    assert error.retryable is retryable


def test_decode_timeout_is_retryable(src: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(args: list[str], *, timeout: float | None = None) -> str:
        assert timeout is not None and timeout > 0
        raise subprocess.TimeoutExpired("ffmpeg", timeout)

    monkeypatch.setattr(ffmpeg, "run", slow)
    error = _rejection(src["flac"])
    assert "decoding the audio took over" in error.reason
    assert error.retryable
