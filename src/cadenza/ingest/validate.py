"""Pipeline stage 1: decide whether an upload is usable audio and describe it.

Checks run cheapest first: file size, ffprobe's header view, declared duration, then one full decode that
measures the real duration and catches truncation and corruption. Every rejection is a `StageError`
whose reason a person can read.
"""

from __future__ import annotations

import math
import os
import re
import stat
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cadenza.config import Limits
from cadenza.errors import StageError
from cadenza.ingest import ffmpeg

STAGE = "validate"

# Reading headers never needs long; decoding scales with the longest file we accept (2 h of FLAC ~ 10 s).
_PROBE_TIMEOUT_SEC = 30.0
_DECODE_BASE_TIMEOUT_SEC = 30.0
_DECODE_TIMEOUT_PER_AUDIO_SEC = 1 / 20

# A decode that ends this much before the header's exact length means the file lost its tail.
_TRUNCATION_TOLERANCE_SEC = 0.5

_LOSSY_CODECS = frozenset({"mp3", "aac", "opus", "vorbis"})
_LOSSLESS_CODECS = frozenset({"flac", "alac", "wavpack"})
_PCM_CODEC = re.compile(r"^pcm_[suf]\d+(le|be)?(_planar)?$")
# FLAC and WavPack carry per-frame checksums; ffmpeg only reports mismatches when asked to check them, and
# without that a FLAC damaged in the middle decodes with no error at all.
_CRC_CODECS = frozenset({"flac", "wavpack"})

_CONTAINERS = {
    "flac": "flac",
    "wav": "wav",
    "aiff": "aiff",
    "mp3": "mp3",
    "mov,mp4,m4a,3gp,3g2,mj2": "mp4",
    "aac": "aac",
    "ogg": "ogg",
    "wv": "wavpack",
}
_ACCEPTED = "FLAC, WAV, AIFF, ALAC, MP3, AAC, Ogg Vorbis and Opus"

# ffprobe messages that say more than "unreadable", and what they mean for the uploader.
_PROBE_HINTS = [
    # MP4/M4A keep their index at the end unless "faststart"ed: a cut upload loses it.
    ("moov atom not found", "audio is truncated or corrupt: the MP4 index (moov atom) is missing"),
    ("channels not set", "no audio channels (the audio stream header is corrupt)"),
]

# `-progress` lines are "key=value" (value may hold spaces: "speed= 522x"); log lines never start so.
_PROGRESS_LINE = re.compile(r"^[a-z0-9_]+=")
_LOG_PREFIX = re.compile(r"^\[[^\]]*@ 0x[0-9a-f]+\]\s*")
# Cover art in the tags (ID3 APIC, FLAC pictures, MP4 `covr`) is an attached-picture stream that ffmpeg
# decodes once while opening the file, even when only the audio is mapped. What those decoders report is
# about the picture, not the audio: a damaged cover must not refuse a track (catalog/artwork.py judges it).
_PICTURE_DECODER = re.compile(r"^\[(mjpeg|png|apng|bmp|gif|webp|tiff|jpeg2000|jpegls) @ 0x[0-9a-f]+\]")
_GENERIC_DECODE_ERROR = "Error while decoding stream"


@dataclass(frozen=True)
class SourceInfo:
    """What validation learned about an accepted upload."""

    container: str
    codec: str
    sample_rate: int
    channels: int
    duration_sec: float
    bit_rate: int | None
    bits_per_sample: int | None
    lossless: bool
    tags: dict[str, str] = field(default_factory=dict)


def validate(path: Path, limits: Limits) -> SourceInfo:
    """Accept `path` as a usable audio source and describe it, or raise StageError("validate", reason)."""
    try:
        return _validate(Path(path), limits)
    except StageError:
        raise
    except Exception as exc:  # the contract: nothing but StageError leaves this stage
        raise StageError(STAGE, f"could not check the file ({type(exc).__name__}: {exc})") from exc


def _validate(path: Path, limits: Limits) -> SourceInfo:
    """The checks in order, cheapest first."""
    size = _check_size(path, limits)
    data, warnings = _probe(path)
    guessed = "misdetection possible" in warnings
    # ffprobe's JSON is trusted for nothing: odd shapes read as "no format info" / "no streams"
    fmt = data.get("format") if isinstance(data.get("format"), dict) else {}
    raw_streams = data.get("streams")
    streams = [s for s in raw_streams if isinstance(s, dict)] if isinstance(raw_streams, list) else []
    stream = _audio_stream(streams, fmt)

    codec = str(stream.get("codec_name") or "")
    sample_rate = _int(stream.get("sample_rate")) or 0
    channels = _int(stream.get("channels")) or 0
    if guessed and (sample_rate <= 0 or channels <= 0):
        raise _reject("not an audio file (ffprobe could only guess a format and found no audio in it)")
    _check_codec(codec)
    _check_sample_rate(sample_rate, limits)
    _check_channels(channels, limits)

    format_name = str(fmt.get("format_name") or "")
    declared = _float(stream.get("duration"))
    if declared is None:
        declared = _float(fmt.get("duration"))
    # Raw MP3/ADTS (and WAVs whose header disagrees with the file) get a length guessed from the bit rate.
    declared_exact = declared is not None and "Estimating duration from bitrate" not in warnings
    if declared_exact and declared is not None and declared > limits.max_duration_sec:
        raise _reject(_over_max(declared, limits))
    if format_name == "wav":
        _check_wav_header(path, size)
    elif format_name == "ogg":
        _check_ogg_pages(path, size)

    index = _int(stream.get("index")) or 0
    decoded, errors = _decode(path, index, codec, limits)
    if errors and not guessed and codec not in _LOSSLESS_CODECS and decoded > _TAIL_SEC * 2:
        # Real-world MP3/AAC files often end in junk (stray tags, a cut last frame). Errors that vanish
        # when the last moments are left out are that tail, not damage in the music.
        _, body_errors = _decode(path, index, codec, limits, stop=decoded - _TAIL_SEC)
        errors = body_errors
    if errors:
        if guessed:
            raise _reject("not an audio file (ffprobe could only guess a format and it does not decode)")
        raise _reject(f"audio is truncated or corrupt: {errors[0]}")
    if declared_exact and declared is not None and declared - decoded > _TRUNCATION_TOLERANCE_SEC:
        raise _reject(
            f"audio is truncated or corrupt: the header declares {_fmt_duration(declared)} "
            f"but only {_fmt_duration(decoded)} could be decoded"
        )
    _check_duration(decoded, limits)

    lossless = codec in _LOSSLESS_CODECS or bool(_PCM_CODEC.match(codec))
    return SourceInfo(
        container=_CONTAINERS.get(format_name, format_name.split(",")[0]),
        codec=codec,
        sample_rate=sample_rate,
        channels=channels,
        duration_sec=round(decoded, 6),
        bit_rate=_positive(_int(stream.get("bit_rate"))) or _positive(_int(fmt.get("bit_rate"))),
        bits_per_sample=_bits_per_sample(stream) if lossless else None,
        lossless=lossless,
        tags=_tags(fmt, stream),
    )


def _reject(reason: str, *, retryable: bool = False) -> StageError:
    """A StageError for this stage."""
    return StageError(STAGE, reason, retryable=retryable)


def _check_size(path: Path, limits: Limits) -> int:
    """Reject missing, empty, non-regular and oversized files before any tool reads them."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise _reject("file not found") from None
    except OSError as exc:
        raise _reject(f"file cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise _reject("not a regular file")
    if st.st_size == 0:
        raise _reject("file is empty")
    if st.st_size > limits.max_upload_bytes:
        raise _reject(f"file is {_fmt_size(st.st_size)}, over the {_fmt_size(limits.max_upload_bytes)} limit")
    return st.st_size


def _probe(path: Path) -> tuple[dict[str, Any], str]:
    """ffprobe's JSON and warnings, with every failure mapped to a readable rejection."""
    try:
        data, warnings = ffmpeg.probe_report(path, timeout=_PROBE_TIMEOUT_SEC)
    except ffmpeg.FFmpegError as exc:
        hint = next((reason for clue, reason in _PROBE_HINTS if clue in exc.stderr), None)
        raise _reject(hint or "not an audio file (ffprobe could not read it)") from None
    except subprocess.TimeoutExpired:
        raise _reject(
            f"reading the file's header took over {_PROBE_TIMEOUT_SEC:.0f} s", retryable=True
        ) from None
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise _reject("not an audio file (ffprobe gave an unreadable description of it)") from None
    except OSError as exc:
        raise _reject(f"ffprobe could not be run ({exc})", retryable=True) from None
    if not isinstance(data, dict):
        raise _reject("not an audio file (ffprobe gave an unreadable description of it)")
    return data, warnings


def _audio_stream(streams: list[dict[str, Any]], fmt: dict[str, Any]) -> dict[str, Any]:
    """The first audio stream, or a rejection saying what the file holds instead."""
    for s in streams:
        if s.get("codec_type") == "audio":
            return s
    kinds = {str(s.get("codec_type")) for s in streams}
    format_name = str(fmt.get("format_name") or "")
    if not streams:
        raise _reject("not an audio file (ffprobe found no streams in it)")
    if format_name.endswith("_pipe") or format_name.startswith("image2"):
        raise _reject(f"not an audio file (it is an image: {format_name.removesuffix('_pipe')})")
    if format_name == "tty":
        raise _reject("not an audio file (it is text)")
    if kinds == {"video"}:
        raise _reject("no audio stream (the file holds only video)")
    if kinds == {"subtitle"}:
        raise _reject("no audio stream (the file holds only subtitles)")
    raise _reject(f"no audio stream (the file holds only {', '.join(sorted(kinds))} streams)")


def _check_codec(codec: str) -> None:
    """Only the formats we promise to handle."""
    if codec in ("", "none", "unknown"):
        raise _reject("unsupported audio codec: ffmpeg cannot decode this audio stream")
    if codec not in _LOSSY_CODECS and codec not in _LOSSLESS_CODECS and not _PCM_CODEC.match(codec):
        raise _reject(f"unsupported audio codec '{codec}' (we accept {_ACCEPTED})")


def _check_sample_rate(sample_rate: int, limits: Limits) -> None:
    """Sample rate within the configured range."""
    if sample_rate <= 0:
        raise _reject("sample rate is missing (the audio stream is empty or corrupt)")
    if not limits.min_sample_rate <= sample_rate <= limits.max_sample_rate:
        raise _reject(
            f"sample rate {sample_rate} Hz is out of range "
            f"({limits.min_sample_rate} to {limits.max_sample_rate} Hz)"
        )


def _check_channels(channels: int, limits: Limits) -> None:
    """At least one channel, at most the configured number."""
    if channels <= 0:
        raise _reject("no audio channels (the audio stream is empty or corrupt)")
    if channels > limits.max_channels:
        raise _reject(f"{channels} channels is over the limit of {limits.max_channels}")


def _check_duration(decoded: float, limits: Limits) -> None:
    """The measured length within the configured range."""
    if decoded <= 0:
        raise _reject("audio has zero length (the file holds no samples)")
    if decoded < limits.min_duration_sec:
        raise _reject(
            f"duration {_fmt_duration(decoded)} is under the {_fmt_limit(limits.min_duration_sec)} minimum"
        )
    if decoded > limits.max_duration_sec:
        if decoded >= _decode_cap(limits):
            # decoding stopped at the cap, so the real length is unknown beyond "too long"
            raise _reject(f"duration is over the {_fmt_limit(limits.max_duration_sec)} limit")
        raise _reject(_over_max(decoded, limits))


def _over_max(duration: float, limits: Limits) -> str:
    """The reason for a too-long file."""
    return f"duration {_fmt_duration(duration)} is over the {_fmt_limit(limits.max_duration_sec)} limit"


def _check_wav_header(path: Path, size: int) -> None:
    """Reject a WAV whose data chunk claims more audio than the file holds.

    ffprobe quietly shrinks such a WAV's length to what is present, so a cut upload would look whole.
    """
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return  # RF64/BW64 and odd variants: nothing to compare, the decode still runs
    byte_rate = 0
    pos = 12
    while pos + 8 <= len(head):
        chunk, length = head[pos : pos + 4], struct.unpack_from("<I", head, pos + 4)[0]
        if chunk == b"fmt " and pos + 20 <= len(head):
            byte_rate = struct.unpack_from("<I", head, pos + 16)[0]
        if chunk == b"data":
            # Writers streaming to a pipe cannot know the size and leave 0 or a ~4 GB placeholder.
            if byte_rate <= 0 or length == 0 or length >= 0x7FFF0000:
                return
            held = max(size - (pos + 8), 0)
            declared_sec, held_sec = length / byte_rate, held / byte_rate
            if declared_sec - held_sec > _TRUNCATION_TOLERANCE_SEC:
                raise _reject(
                    f"audio is truncated or corrupt: the WAV header declares {_fmt_duration(declared_sec)} "
                    f"of audio but the file holds only {_fmt_duration(held_sec)}"
                )
            return
        pos += 8 + length + (length & 1)


def _check_ogg_pages(path: Path, size: int) -> None:
    """Reject an Ogg file whose last page runs past the end of the file.

    ffmpeg drops a partial last page silently and the length comes from the last whole page's granule, so
    without this walk over the page headers a cut Ogg upload looks whole.
    """
    with open(path, "rb") as f:
        pos = 0
        while pos < size:
            f.seek(pos)
            header = f.read(27)
            if len(header) < 27 or header[:4] != b"OggS":
                return  # junk between pages: ffmpeg resyncs, and the decode judges the rest
            segments = f.read(header[26])
            end = pos + 27 + header[26] + sum(segments)
            if len(segments) < header[26] or end > size:
                raise _reject("audio is truncated or corrupt: the Ogg file ends in the middle of a page")
            pos = end


# How much of a lossy file's end may hold junk that fails to decode.
_TAIL_SEC = 1.0


def _decode_cap(limits: Limits) -> float:
    """How much audio to decode at most: a little past the limit, so a lying header cannot cost hours."""
    return limits.max_duration_sec + 1


def _decode(
    path: Path, index: int, codec: str, limits: Limits, *, stop: float | None = None
) -> tuple[float, list[str]]:
    """Decode the audio stream once (up to `stop` s); return the seconds decoded and ffmpeg's errors."""
    cap = _decode_cap(limits) if stop is None else stop
    checks = ["-err_detect", "crccheck"] if codec in _CRC_CODECS else []
    args = [
        *checks,
        "-i", str(path),
        "-map", f"0:{index}",
        "-t", f"{cap:.3f}",
        "-f", "null",
        "-progress", "pipe:2",
        "-",
    ]  # fmt: skip
    timeout = _DECODE_BASE_TIMEOUT_SEC + limits.max_duration_sec * _DECODE_TIMEOUT_PER_AUDIO_SEC
    try:
        stderr = ffmpeg.run(args, timeout=timeout)
    except ffmpeg.FFmpegError as exc:
        errors = _error_lines(exc.stderr)
        message = errors[0] if errors else "ffmpeg failed without a message"
        raise _reject(f"audio cannot be decoded: {message}") from None
    except subprocess.TimeoutExpired:
        raise _reject(f"decoding the audio took over {timeout:.0f} s", retryable=True) from None
    except OSError as exc:
        raise _reject(f"ffmpeg could not be run ({exc})", retryable=True) from None
    return _decoded_seconds(stderr), _error_lines(stderr)


def _decoded_seconds(stderr: str) -> float:
    """The last `out_time_us` of ffmpeg's progress report, in seconds (0 if none)."""
    last = 0
    for line in stderr.splitlines():
        if line.startswith("out_time_us="):
            value = _int(line.partition("=")[2])
            if value is not None:
                last = value
    return max(last, 0) / 1_000_000


def _error_lines(stderr: str) -> list[str]:
    """ffmpeg's error messages, most specific first, without progress lines or "[codec @ 0x...]"."""
    lines = []
    for raw in stderr.splitlines():
        line = raw.strip()
        if not line or _PROGRESS_LINE.match(line) or line.startswith("Last message repeated"):
            continue
        if _PICTURE_DECODER.match(line):
            continue
        lines.append(_LOG_PREFIX.sub("", line)[:160])
    # "Error while decoding stream #0:0: Invalid data..." follows the decoder's own, clearer line.
    return sorted(lines, key=lambda m: m.startswith(_GENERIC_DECODE_ERROR))


def _tags(fmt: dict[str, Any], stream: dict[str, Any]) -> dict[str, str]:
    """Stream tags overlaid with container tags, keys lower-cased."""
    tags: dict[str, str] = {}
    for source in (stream.get("tags"), fmt.get("tags")):
        if isinstance(source, dict):
            tags.update({str(k).lower(): str(v) for k, v in source.items()})
    return tags


def _bits_per_sample(stream: dict[str, Any]) -> int | None:
    """The lossless sample depth: FLAC/ALAC report it as raw bits, PCM as bits per sample."""
    return _positive(_int(stream.get("bits_per_raw_sample"))) or _positive(
        _int(stream.get("bits_per_sample"))
    )


def _int(value: Any) -> int | None:
    """An int from ffprobe's strings and numbers, None for "N/A" and junk."""
    number = _float(value)
    return int(number) if number is not None else None


def _float(value: Any) -> float | None:
    """A finite float from ffprobe's strings and numbers, None for "N/A" and junk."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _positive(value: int | None) -> int | None:
    """The value if above zero."""
    return value if value is not None and value > 0 else None


def _fmt_duration(sec: float) -> str:
    """0.2 s, 4 min 5 s, 3 h 0 min."""
    if sec < 60:
        return f"{sec:.1f} s"
    minutes = int(sec // 60)
    if minutes < 60:
        return f"{minutes} min {int(sec % 60)} s"
    return f"{minutes // 60} h {minutes % 60} min"


def _fmt_limit(sec: float) -> str:
    """A configured limit without trailing zero parts: 1 s, 30 min, 2 h, 1 h 30 min."""
    if sec < 60:
        return f"{sec:g} s"
    minutes = int(sec // 60)
    if minutes < 60:
        return f"{minutes} min" + (f" {int(sec % 60)} s" if sec % 60 else "")
    hours, rest = divmod(minutes, 60)
    return f"{hours} h" + (f" {rest} min" if rest else "")


def _fmt_size(n: int) -> str:
    """Bytes for people: 512 bytes, 3.1 MB, 2.0 GB (binary multiples)."""
    if n < 1024:
        return f"{n} bytes"
    value = float(n)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1024
        if value < 1024 or unit == "TB":
            break
    return f"{value:.1f} {unit}"


__all__ = ["SourceInfo", "validate"]
