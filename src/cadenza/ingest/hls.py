"""HLS packaging after encoding: content-hashed segment names, rewritten variant playlists, a master.

ffmpeg writes `init.mp4` + `seg_00000.m4s`... per rendition. Every media file is renamed to the first 16 hex
digits of its SHA-256 (init segments keep `.mp4`, media segments `.m4s`), so a URL names exactly one
content and can be cached forever; the playlists are the only mutable files.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import m3u8

AAC_LC_CODECS = "mp4a.40.2"
FLAC_CODECS = "fLaC"  # RFC 6381 name of FLAC in ISOBMFF (the FLAC-in-MP4 spec), as HLS and DASH list it
HASH_HEX_CHARS = 16
INIT_EXT = ".mp4"
SEGMENT_EXT = ".m4s"
# EXT-X-MAP without EXT-X-I-FRAMES-ONLY needs 6; ffmpeg's fMP4 playlists say 7 and the master matches them.
MASTER_VERSION = 7


@dataclass(frozen=True)
class Rendition:
    """One AAC variant stream as listed in the master playlist; `playlist` is relative to the output dir."""

    name: str
    bitrate_kbps: int
    codecs: str
    playlist: str
    segment_count: int
    average_bandwidth: int
    peak_bandwidth: int


@dataclass(frozen=True)
class RenditionSpec:
    """What was encoded: the rendition's directory name under hls/ and its nominal bitrate."""

    name: str
    bitrate_kbps: int
    codecs: str = AAC_LC_CODECS


def content_name(path: Path, ext: str) -> str:
    """The immutable file name for a file's content: sha256 prefix plus the given extension."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:HASH_HEX_CHARS] + ext


def package(hls_dir: Path, specs: Sequence[RenditionSpec], *, prefix: str = "hls") -> list[Rendition]:
    """Hash-rename and rewrite each `hls_dir/<name>/index.m3u8`, write `hls_dir/master.m3u8`.

    Returned playlists are `prefix/<name>/index.m3u8` (paths relative to the transcode output dir);
    renditions come back ordered by peak bandwidth, as the master lists them.
    """
    renditions = [_package_variant(hls_dir / spec.name, spec, prefix) for spec in specs]
    renditions.sort(key=lambda r: (r.peak_bandwidth, r.bitrate_kbps))
    write_master(hls_dir / "master.m3u8", renditions, prefix=prefix)
    return renditions


def package_one(variant_dir: Path, spec: RenditionSpec) -> Rendition:
    """Package a rendition that lives outside `hls/` (the hi-fi FLAC): its playlist path is relative to
    the track version's root. A rendition without a nominal bitrate gets its average, in kbit/s."""
    r = _package_variant(variant_dir, spec, "")
    if r.bitrate_kbps == 0:
        r = dataclasses.replace(r, bitrate_kbps=math.ceil(r.average_bandwidth / 1000))
    return r


def add_sample_aes_key(playlist_path: Path, *, kid: bytes, keyformat: str = "org.w3.clearkey") -> None:
    """Declare a media playlist's segments as Common Encryption (`cenc`, AES-CTR) for an EME client:
    `METHOD=SAMPLE-AES-CTR` with the Clear Key key format, the KID in a data URI (hls.js reads the key
    id from its first 16 bytes and asks the licence server configured in the player, Cadenza's
    `licence_url`). Written before EXT-X-MAP, so it covers the init section too."""
    uri = "data:text/plain;base64," + base64.b64encode(kid).decode()
    tag = f'#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,KEYFORMAT="{keyformat}",KEYFORMATVERSIONS="1",URI="{uri}"'
    lines = playlist_path.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("#EXT-X-MAP"))
    _atomic_write_text(playlist_path, "\n".join([*lines[:at], tag, *lines[at:]]) + "\n")


def segment_durations(playlist: Path) -> list[float]:
    """The EXTINF durations of a media playlist, in order."""
    return [float(seg.duration) for seg in m3u8.load(str(playlist)).segments]


def segment_uris(playlist: Path) -> tuple[str, list[str]]:
    """A packaged media playlist's init segment and media segments (names relative to the playlist)."""
    loaded = m3u8.load(str(playlist))
    init = loaded.segment_map[0].uri if loaded.segment_map else loaded.segments[0].init_section.uri
    return init, [seg.uri for seg in loaded.segments]


def check_aligned(root: Path, renditions: Sequence[Rendition], *, tolerance: float = 1e-5) -> None:
    """Every rendition cuts its segments at the same times (CMAF's aligned switching sets), which a DASH
    client switching with `segmentAlignment` and an HLS client switching levels both rely on. The AAC
    renditions share the encoder's frame grid, so ffmpeg's segmenter cuts them identically."""
    reference: list[float] | None = None
    for r in renditions:
        durations = segment_durations(root / r.playlist)
        if reference is None:
            reference = durations
        elif len(durations) != len(reference) or any(
            abs(a - b) > tolerance for a, b in zip(durations, reference, strict=True)
        ):
            raise ValueError(f"{r.name}: segments are not aligned with {renditions[0].name}")


def write_master(path: Path, renditions: Sequence[Rendition], *, prefix: str = "hls") -> None:
    """Write the master playlist for already packaged renditions, then parse it back as a check."""
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{MASTER_VERSION}", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for r in sorted(renditions, key=lambda r: (r.peak_bandwidth, r.bitrate_kbps)):
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={r.peak_bandwidth},AVERAGE-BANDWIDTH={r.average_bandwidth},"
            f'CODECS="{r.codecs}"'
        )
        lines.append(_relative_to_prefix(r.playlist, prefix))
    _atomic_write_text(path, "\n".join(lines) + "\n")
    master = m3u8.load(str(path))
    if not master.is_variant or len(master.playlists) != len(renditions):
        raise ValueError(f"{path}: master playlist did not parse back with {len(renditions)} variants")


def peak_bandwidth(durations: Sequence[float], sizes: Sequence[int], init_size: int, target: float) -> int:
    """Peak segment bit rate (bits/s) of a media playlist, counting the init segment with each window.

    RFC 8216 §4.3.4.2 makes BANDWIDTH the peak segment bit rate; following its definition (8216bis §4.3.4.2),
    that is the highest rate of any run of consecutive segments lasting 0.5-1.5x the target duration, so
    a one-frame tail segment is judged together with its neighbour rather than alone. A playlist shorter
    than half the target is one window.
    """
    best = 0.0
    n = len(durations)
    for i in range(n):
        total_d = 0.0
        total_b = 0
        for j in range(i, n):
            total_d += durations[j]
            total_b += sizes[j]
            if total_d > 1.5 * target:
                break
            if total_d >= 0.5 * target:
                best = max(best, (total_b + init_size) * 8 / total_d)
    if best == 0.0 and n:
        best = (sum(sizes) + init_size) * 8 / max(sum(durations), 1e-6)
    return math.ceil(best)


def average_bandwidth(durations: Sequence[float], sizes: Sequence[int]) -> int:
    """Average segment bit rate (bits/s): all media segment bytes over the playlist duration."""
    total = sum(durations)
    return math.ceil(sum(sizes) * 8 / total) if total > 0 else 0


def _package_variant(variant_dir: Path, spec: RenditionSpec, prefix: str) -> Rendition:
    """Rename one rendition's files to content names and rewrite its playlist in place."""
    playlist_path = variant_dir / "index.m3u8"
    playlist = m3u8.load(str(playlist_path))
    if playlist.is_variant or not playlist.segments or not playlist.is_endlist:
        raise ValueError(f"{playlist_path}: expected a finished VOD media playlist")

    _drop_empty_segments(variant_dir, playlist)
    renamed: dict[str, str] = {}
    init_size = 0
    init_uris = {seg.init_section.uri for seg in playlist.segments if seg.init_section is not None}
    init_uris.update(section.uri for section in playlist.segment_map)
    if len(init_uris) != 1:
        raise ValueError(f"{playlist_path}: expected one EXT-X-MAP init segment, found {len(init_uris)}")
    (init_uri,) = init_uris
    init_size = (variant_dir / init_uri).stat().st_size
    renamed[init_uri] = _rename_to_content(variant_dir, init_uri, INIT_EXT)

    durations: list[float] = []
    sizes: list[int] = []
    for seg in playlist.segments:
        sizes.append((variant_dir / seg.uri).stat().st_size if seg.uri not in renamed else 0)
        durations.append(float(seg.duration))
        if seg.uri not in renamed:
            renamed[seg.uri] = _rename_to_content(variant_dir, seg.uri, SEGMENT_EXT)
        seg.uri = renamed[seg.uri]
        if seg.init_section is not None:
            seg.init_section.uri = renamed[init_uri]
    for section in playlist.segment_map:
        section.uri = renamed[init_uri]
    # Every AAC frame decodes on its own, so each segment does too.
    playlist.is_independent_segments = True
    _atomic_write_text(playlist_path, playlist.dumps())
    _verify_variant(playlist_path, len(durations))

    return Rendition(
        name=spec.name,
        bitrate_kbps=spec.bitrate_kbps,
        codecs=spec.codecs,
        playlist=f"{prefix}/{spec.name}/index.m3u8" if prefix else f"{spec.name}/index.m3u8",
        segment_count=len(durations),
        average_bandwidth=average_bandwidth(durations, sizes),
        peak_bandwidth=peak_bandwidth(durations, sizes, init_size, float(playlist.target_duration or 0)),
    )


def _drop_empty_segments(variant_dir: Path, playlist: m3u8.M3U8) -> None:
    """ffmpeg's segmenter closes a last fMP4 segment with no fragment in it (only `styp`) when the audio
    ends right after a cut (FLAC's last frame falls in the segment before): a segment with no samples
    is dropped from the playlist and the disk, or DASH clients would fetch and choke on it."""
    for seg in list(playlist.segments):
        path = variant_dir / seg.uri
        if path.is_file() and path.stat().st_size < 4096 and b"moof" not in path.read_bytes():
            playlist.segments.remove(seg)
            path.unlink()


def _rename_to_content(directory: Path, uri: str, ext: str) -> str:
    """Rename `directory/uri` to its content name; an identical file already there is simply reused."""
    if "/" in uri or uri.startswith(".."):
        raise ValueError(f"unexpected segment URI {uri!r}: must be a plain file name")
    source = directory / uri
    name = content_name(source, ext)
    target = directory / name
    if target.exists() and target != source:
        source.unlink()  # same hash, same bytes: keep one copy
    else:
        source.rename(target)
    return name


def _verify_variant(playlist_path: Path, expected_segments: int) -> None:
    """Parse the rewritten playlist back and check every URI names an existing, hash-named file."""
    playlist = m3u8.load(str(playlist_path))
    uris = [seg.uri for seg in playlist.segments]
    uris += [seg.init_section.uri for seg in playlist.segments if seg.init_section is not None]
    if len(playlist.segments) != expected_segments or not playlist.segment_map:
        raise ValueError(f"{playlist_path}: rewritten playlist lost segments or its EXT-X-MAP")
    for uri in uris:
        if not (playlist_path.parent / uri).is_file():
            raise ValueError(f"{playlist_path}: {uri} is listed but missing")


def _relative_to_prefix(playlist: str, prefix: str) -> str:
    """A playlist path relative to the master, which lives in `prefix/`."""
    return playlist.removeprefix(prefix + "/") if prefix else playlist


def _atomic_write_text(path: Path, text: str) -> None:
    """Replace a text file in one step."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
