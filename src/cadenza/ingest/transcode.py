"""Stage 2 of ingest: one decode per ffmpeg process feeding every encoder, two processes in parallel.

Debian's ffmpeg 5.1 runs all encoders of one process on one thread, so the outputs are split between two
concurrent processes (one per core), each decoding the source once and fanning it out with `asplit`.
The split is the best balance over measured encoder costs (see `_COST`, `_balance`); with the default
bitrates it comes out as (modelled CPU for a 4-min stereo 44.1 kHz track)

    A: AAC 320k + AAC 256k + Chromaprint + PCM                   (10.15 s, the Python peak reader included)
    B: AAC 128k + MP3 320k + EBU R128 loudness + FLAC (tee'd)    (9.95 s; loudness with true peak 1.8 s)

Measured on its own (user CPU, two runs): A 10.5/10.3 s, B 10.3/10.2 s. Earlier splits: before the
loudness tap, A: AAC 320k + 128k + FLAC (8.4 s), B: AAC 256k + MP3 + taps (8.0 s + 0.25 s); with the
loudness tap beside the fingerprint and two FLAC encodes, A ran 10.9 s against B's 10.1 s.

Outputs (paths relative to `out_dir`):
    hls/master.m3u8, hls/aac_<kbps>/index.m3u8 + content-named .mp4 init and .m4s segments,
    download/mp3_<kbps>.mp3, download/hifi.flac (lossless sources only),
    analysis/peaks.bin (see `waveform`), analysis/fingerprint.raw (see `read_fingerprint`),
    analysis/loudness.json (see `ingest/loudness.py` and `catalog/loudness.py`).

Everything is written into a fresh sibling temp dir which replaces `out_dir` only when complete.
"""

from __future__ import annotations

import collections
import json
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cadenza.catalog.loudness import Blocks, Loudness
from cadenza.config import Ingest
from cadenza.errors import StageError
from cadenza.ingest import dash, ffmpeg, hls, waveform
from cadenza.ingest import loudness as ld
from cadenza.ingest.hls import Rendition
from cadenza.protection import cenc, clearkey
from cadenza.protection.keys import TrackKey

__all__ = ["Rendition", "TranscodeResult", "flac_bits", "lossy_sample_rate", "read_fingerprint", "transcode"]

STAGE = "transcode"
PROCESSES = 2
MASTER_PLAYLIST = "hls/master.m3u8"
MPD = "hls/manifest.mpd"
HIFI_MASTER_PLAYLIST = "master.m3u8"
HIFI_MPD = "manifest.mpd"
FLAC_STREAM_DIR = "flac"
FLAC_PATH = "download/hifi.flac"
PEAKS_PATH = "analysis/peaks.bin"
FINGERPRINT_PATH = "analysis/fingerprint.raw"
LOUDNESS_PATH = "analysis/loudness.json"
_PCM_CHUNK = 1 << 16
_STDERR_LINES = 40

# CPU seconds each output costs on a 4-min stereo 44.1 kHz FLAC (one core, its share of decoding included),
# measured with getrusage: aac 128k 3.9, 256k 4.7, 320k 4.5, mp3 320k 3.4, flac 0.7, chromaprint + PCM
# tap 0.5, plus 0.25 for the Python peak reader, which competes for the same two cores, plus the loudness
# tap (ebur128 with true peak). "flac" is one FLAC encode written twice (the fMP4 stream and the download).
_COST = {"mp3": 3.4, "flac": 0.85, "taps": 0.75, "loudness": ld.COST_SEC}


def _aac_cost(kbps: int) -> float:
    """AAC encoder cost grows with bitrate up to ~256k, then levels off (more bits, same analysis)."""
    return 3.9 + 0.8 * (min(max(kbps, 128), 256) - 128) / 128


@dataclass(frozen=True)
class TranscodeResult:
    """What the transcode stage produced; every path is relative to `out_dir`."""

    out_dir: Path
    renditions: list[Rendition]
    master_playlist: str
    mp3: str
    flac: str | None
    flac_skipped_reason: str | None
    peaks: str
    fingerprint: str
    duration_sec: float
    loudness: str | None = None  # None in summaries written before the loudness tap existed
    mpd: str | None = None  # the AAC ladder as DASH, same segments as the HLS master
    hifi_master_playlist: str | None = None  # AAC + FLAC (lossless sources only), HLS
    hifi_mpd: str | None = None  # AAC + FLAC, DASH
    flac_stream: Rendition | None = None  # FLAC in fMP4, listed only in the hi-fi manifests
    kid: str | None = None  # hex KID when the CMAF segments are encrypted (cenc)


@dataclass
class _Job:
    """One output of an ffmpeg process: its filter branch and output arguments."""

    kind: str  # "aac" | "mp3" | "flac" (the FLAC download and the FLAC fMP4 stream) | "taps" | "loudness"
    cost: float
    bitrate_kbps: int = 0


@dataclass
class _Plan:
    """Everything `transcode` decided from the source parameters before running ffmpeg."""

    source: Path
    sample_rate: int
    channels: int
    lossy_rate: int
    lossy_layout: str
    flac_bits: int | None
    spp: int
    segment_sec: float
    mp3_kbps: int
    aac_kbps: list[int]
    flac_frame: int = 4096

    @property
    def out_channels(self) -> int:
        return 1 if self.lossy_layout == "mono" else 2

    jobs: list[list[_Job]] = field(default_factory=list)


def lossy_sample_rate(sample_rate: int) -> int:
    """AAC/MP3 output rate: 44.1 or 48 kHz kept, anything above 48k to 48k, anything else to 44.1k."""
    if sample_rate in (44_100, 48_000):
        return sample_rate
    return 48_000 if sample_rate > 48_000 else 44_100


def flac_bits(bits_per_sample: int | None) -> int:
    """FLAC bit depth for a lossless source: 16 stays 16, deeper (24, s32, float) becomes 24."""
    if bits_per_sample is not None and bits_per_sample <= 16:
        return 16
    # Unknown depth: 24 bits can hold any 16-bit source exactly, 16 could truncate.
    return 24


def flac_stream_frame(sample_rate: int, lossy_rate: int) -> int:
    """FLAC block size for the streamed (fMP4) FLAC: as long in time as one AAC frame (1024 samples at
    the lossy rate), so the segmenter cuts FLAC where it cuts AAC and the renditions stay aligned for
    ABR. 44.1 kHz -> 1024, 96 kHz (AAC at 48k) -> 2048; a rate with no whole ratio gets the nearest."""
    return max(16, min(65535, round(1024 * sample_rate / lossy_rate)))


def read_fingerprint(path: Path) -> np.ndarray:
    """Load `analysis/fingerprint.raw`: Chromaprint's raw fingerprint, a bare array of uint32 little-endian.

    ffmpeg's chromaprint muxer with `-fp_format raw` writes the sub-fingerprints exactly as
    `chromaprint_get_raw_fingerprint` returns them (algorithm 1 = TEST2, fpcalc's default), no header,
    native byte order (little-endian on the x86/ARM hosts we run on); one item per 4096/3 samples at
    11025 Hz (~8.07 per second), less about 20 at the edges. Checked item for item against
    `fpcalc -raw -length 0` on the same file: identical (fpcalc prints them unsigned unless `-signed`).
    """
    raw = path.read_bytes()
    if len(raw) % 4:
        raise ValueError(f"{path.name}: {len(raw)} bytes is not a whole number of uint32 items")
    return np.frombuffer(raw, dtype="<u4").copy()


def transcode(
    source: Path,
    *,
    sample_rate: int,
    channels: int,
    lossless: bool,
    bits_per_sample: int | None,
    duration_sec: float,
    out_dir: Path,
    cfg: Ingest,
    codec: str | None = None,
    protection: TrackKey | None = None,
) -> TranscodeResult:
    """Encode `source` into HLS AAC renditions, an MP3, a FLAC (lossless only) and the analysis taps.

    `duration_sec` is the validator's estimate; the result carries the duration measured on the PCM tap.
    `codec` (e.g. "mp3") only words the reason a lossy source gets no FLAC; it is probed when omitted.
    With `protection`, every CMAF init and media segment is encrypted (cenc) before it is named, and the
    MPDs carry the Clear Key ContentProtection.
    """
    if sample_rate <= 0 or channels <= 0:
        raise StageError(STAGE, f"invalid source parameters: {sample_rate} Hz, {channels} channels")
    source = Path(source)
    if not source.is_file():
        raise StageError(STAGE, f"source file {source} does not exist")
    # Absolute paths: ffmpeg would read "name:rest" as a protocol and a leading "-" as an option.
    plan = _plan(source.resolve(), sample_rate, channels, lossless, bits_per_sample, cfg)
    target = Path(out_dir).resolve()
    if "%" in str(target):
        # ffmpeg's HLS muxer expands '%' in segment paths and has no escape for it.
        raise StageError(STAGE, f"output path {target} must not contain '%'")
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        subs = ["download", "analysis", *(f"hls/{_aac_name(k)}" for k in plan.aac_kbps)]
        if plan.flac_bits:
            subs.append(FLAC_STREAM_DIR)
        for sub in subs:
            (work / sub).mkdir(parents=True, exist_ok=True)
        peaks = _run_encoders(plan, work, timeout=cfg.stage_timeout_sec)
        waveform.save_peaks(peaks.finish(), work / PEAKS_PATH)
        save_loudness(ld.read(work / ld.DIR), work / LOUDNESS_PATH)
        for tap_file in ld.files(work / ld.DIR):
            tap_file.unlink()
        measured = peaks.duration_sec
        if measured <= 0:
            raise StageError(STAGE, "the source decoded to no audio")
        _check_outputs(work, plan)
        lossy = (plan.lossy_rate, plan.out_channels)
        lossless = (plan.sample_rate, plan.channels) if plan.flac_bits else None
        renditions, flac_stream = package_cmaf(
            work, plan.aac_kbps, lossy=lossy, lossless=lossless, protection=protection
        )
        _replace_dir(work, target)
    except BaseException as exc:
        # Whatever happened (including Ctrl-C), no half-written output survives.
        shutil.rmtree(work, ignore_errors=True)
        if isinstance(exc, StageError) or not isinstance(exc, Exception):
            raise
        raise StageError(STAGE, f"{type(exc).__name__}: {exc}") from exc

    return TranscodeResult(
        out_dir=Path(out_dir),
        renditions=renditions,
        master_playlist=MASTER_PLAYLIST,
        mp3=_mp3_path(plan.mp3_kbps),
        flac=FLAC_PATH if plan.flac_bits else None,
        flac_skipped_reason=None if lossless else _lossy_reason(source, codec),
        peaks=PEAKS_PATH,
        fingerprint=FINGERPRINT_PATH,
        duration_sec=round(measured, 6),
        loudness=LOUDNESS_PATH,
        mpd=MPD,
        hifi_master_playlist=HIFI_MASTER_PLAYLIST if flac_stream else None,
        hifi_mpd=HIFI_MPD if flac_stream else None,
        flac_stream=flac_stream,
        kid=protection.kid.hex() if protection else None,
    )


def package_cmaf(
    work: Path,
    aac_kbps: list[int],
    *,
    lossy: tuple[int, int],
    lossless: tuple[int, int] | None,
    protection: TrackKey | None,
) -> tuple[list[Rendition], Rendition | None]:
    """From CMAF renditions on disk (`hls/aac_<kbps>/` and, with `lossless`, `flac/`, each an HLS media
    playlist with its init and segments), the published form: segments encrypted when `protection` is
    given, every file named by content hash, the HLS masters and the DASH MPDs. Used by transcode and by
    `cadenza repackage` (which starts from published segments and re-encodes nothing)."""
    cmaf_dirs = [work / "hls" / _aac_name(k) for k in aac_kbps]
    if lossless:
        cmaf_dirs.append(work / FLAC_STREAM_DIR)
    signalling = []
    if protection is not None:
        for variant in cmaf_dirs:
            encrypt_rendition(variant, protection)
        signalling = clearkey.content_protection(protection.kid)
    specs = [hls.RenditionSpec(_aac_name(k), k) for k in aac_kbps]
    renditions = hls.package(work / "hls", specs)
    hls.check_aligned(work, renditions)
    aac_audio = dict.fromkeys((r.name for r in renditions), lossy)
    dash.write_mpd(work / MPD, work, renditions, audio=aac_audio, protection=signalling)
    flac_stream = None
    if lossless:
        flac_stream = hls.package_one(work / FLAC_STREAM_DIR, hls.RenditionSpec("flac", 0, hls.FLAC_CODECS))
        ladder = [*renditions, flac_stream]
        hls.write_master(work / HIFI_MASTER_PLAYLIST, ladder, prefix="")
        dash.write_mpd(
            work / HIFI_MPD, work, ladder, audio={**aac_audio, "flac": lossless}, protection=signalling
        )
    if protection is not None:
        for r in [*renditions, *([flac_stream] if flac_stream else [])]:
            hls.add_sample_aes_key(work / r.playlist, kid=protection.kid)
    return renditions, flac_stream


def encrypt_rendition(variant: Path, key: TrackKey) -> None:
    """Encrypt a rendition's CMAF files in place (before they are named by content hash)."""
    for path in sorted(variant.iterdir()):
        if path.suffix == ".mp4":
            path.write_bytes(cenc.encrypt_init(path.read_bytes(), kid=key.kid))
        elif path.suffix == ".m4s":
            path.write_bytes(cenc.encrypt_segment(path.read_bytes(), key=key.key))


def save_loudness(measured: Loudness, path: Path) -> None:
    """Write a measurement as `analysis/loudness.json`."""
    data = {
        "integrated_lufs": measured.integrated_lufs,
        "range_lu": measured.range_lu,
        "true_peak_dbtp": measured.true_peak_dbtp,
        "blocks": measured.blocks.to_json(),
    }
    path.write_text(json.dumps(data))


def load_loudness(path: Path) -> Loudness:
    """Read `analysis/loudness.json`."""
    data = json.loads(path.read_text())
    return Loudness(
        integrated_lufs=data["integrated_lufs"],
        range_lu=data["range_lu"],
        true_peak_dbtp=data["true_peak_dbtp"],
        blocks=Blocks.from_json(data["blocks"]),
    )


def _plan(
    source: Path, sample_rate: int, channels: int, lossless: bool, bits: int | None, cfg: Ingest
) -> _Plan:
    """Decide formats and how the outputs are spread over the ffmpeg processes."""
    plan = _Plan(
        source=source,
        sample_rate=sample_rate,
        channels=channels,
        lossy_rate=lossy_sample_rate(sample_rate),
        lossy_layout="mono" if channels == 1 else "stereo",
        flac_bits=flac_bits(bits) if lossless else None,
        spp=waveform.samples_per_pixel(sample_rate, cfg.waveform_pixels_per_second),
        segment_sec=cfg.hls_segment_sec,
        mp3_kbps=cfg.mp3_bitrate_kbps,
        aac_kbps=sorted(set(cfg.aac_bitrates_kbps)),
    )
    jobs = [_Job("aac", _aac_cost(k), k) for k in plan.aac_kbps]
    jobs.append(_Job("mp3", _COST["mp3"], cfg.mp3_bitrate_kbps))
    jobs.append(_Job("taps", _COST["taps"]))  # the fingerprint and the PCM pipe (waveform)
    jobs.append(_Job("loudness", _COST["loudness"]))  # its own job: the split balances better
    if plan.flac_bits:
        # FLAC cost grows with the samples it has to code, unlike the lossy encoders that resample first.
        scale = sample_rate * channels / (44_100 * 2)
        jobs.append(_Job("flac", _COST["flac"] * scale))
        plan.flac_frame = flac_stream_frame(sample_rate, plan.lossy_rate)
    plan.jobs = _balance(jobs, PROCESSES)
    return plan


def _balance(jobs: list[_Job], processes: int) -> list[list[_Job]]:
    """Two processes and a handful of jobs: the split with the lightest heavier side, found by trying
    them all (with the loudness tap, longest-processing-time-first left 10.65 s against 9.3 s; the best
    split is 10.1 against 9.85). Otherwise longest-processing-time-first."""
    if processes == 2 and 1 < len(jobs) <= 12:
        ordered = sorted(jobs, key=lambda j: (-j.cost, -j.bitrate_kbps))
        total = sum(j.cost for j in ordered)
        best = min(
            range(1 << (len(ordered) - 1)),  # the heaviest job stays in the first process: no mirror splits
            key=lambda mask: max(
                side := sum(j.cost for i, j in enumerate(ordered[1:]) if not mask >> i & 1) + ordered[0].cost,
                total - side,
            ),
        )
        first = [ordered[0], *(j for i, j in enumerate(ordered[1:]) if not best >> i & 1)]
        second = [j for i, j in enumerate(ordered[1:]) if best >> i & 1]
        return [b for b in (first, second) if b]
    return _longest_first(jobs, processes)


def _longest_first(jobs: list[_Job], processes: int) -> list[list[_Job]]:
    """Longest-processing-time-first: each job, heaviest first, goes to the least loaded process."""
    bins: list[list[_Job]] = [[] for _ in range(processes)]
    loads = [0.0] * processes
    # Ties go to higher bitrates first; stable sort keeps the config order otherwise.
    for job in sorted(jobs, key=lambda j: (-j.cost, -j.bitrate_kbps)):
        i = loads.index(min(loads))
        bins[i].append(job)
        loads[i] += job.cost
    return [b for b in bins if b]


def _process_args(plan: _Plan, jobs: list[_Job], work: Path) -> list[str]:
    """ffmpeg arguments for one process: decode once, asplit to every output it owns."""
    lossy = [j for j in jobs if j.kind in ("aac", "mp3")]
    native = [j for j in jobs if j.kind in ("flac", "taps", "loudness")]
    branches: list[str] = []
    graph: list[str] = []
    outputs: list[str] = []

    if lossy:
        branches.append("[lossy]")
        chain = []
        if plan.lossy_rate != plan.sample_rate:
            chain.append(f"aresample={plan.lossy_rate}:resampler=soxr")
        chain.append(f"aformat=sample_fmts=fltp:channel_layouts={plan.lossy_layout}")
        labels = [f"[l{i}]" for i in range(len(lossy))]
        graph.append(f"[lossy]{','.join(chain)},asplit={len(lossy)}{''.join(labels)}")
        for label, job in zip(labels, lossy, strict=True):
            outputs += _lossy_output(plan, job, label, work)
    for job in native:
        if job.kind == "flac":
            branches.append("[flac]")
            outputs += _flac_outputs(plan)
        elif job.kind == "loudness":
            branches.append("[ld]")
            graph.append(ld.filter_chain("ld", work / ld.DIR))
        else:
            branches += ["[fp]", "[pcm]"]
            # The chromaprint muxer takes at most two channels.
            fp_chain = "[fp]aformat=channel_layouts=stereo[fpo]" if plan.channels > 2 else "[fp]anull[fpo]"
            graph.append(fp_chain)
            outputs += ["-map", "[fpo]", "-f", "chromaprint", "-fp_format", "raw"]
            outputs += [str(work / FINGERPRINT_PATH)]
            # Pinning rate/channels makes the pipe's layout exactly what the reader assumes.
            outputs += ["-map", "[pcm]", "-c:a", "pcm_s16le", "-ar", str(plan.sample_rate)]
            outputs += ["-ac", str(plan.channels), "-f", "s16le", "pipe:1"]
    split = f"[0:a:0]asplit={len(branches)}{''.join(branches)}"
    return ["-i", str(plan.source), "-filter_complex", ";".join([split, *graph]), *outputs]


def _flac_outputs(plan: _Plan) -> list[str]:
    """One FLAC encode, muxed twice by `tee`: the hi-fi stream (FLAC in fMP4, CMAF HLS, blocks as long as
    an AAC frame so the renditions stay aligned) and the download (`.flac`, the same frames; the flac
    muxer writes the encoder's final STREAMINFO: MD5 and sample count). Encoding twice cost 0.7 s of CPU
    per 4-minute track; the shorter blocks make the download ~1.5 % larger than FLAC's default 4608.
    The paths are relative to the process's working directory (the work dir): `tee` has its own escaping,
    which a configured path with `:` or `|` in it would need. `onfail=abort`: a failed copy fails ffmpeg."""
    fmt = "s16" if plan.flac_bits == 16 else "s32"
    encode = ["-map", "[flac]", "-c:a", "flac", "-sample_fmt", fmt, "-frame_size", str(plan.flac_frame)]
    if plan.flac_bits == 24:
        encode += ["-bits_per_raw_sample", "24"]
    stream = ":".join([
        "f=hls", "onfail=abort", "fflags=+bitexact", f"hls_time={_num(plan.segment_sec)}",
        "hls_playlist_type=vod", "hls_segment_type=fmp4", "hls_fmp4_init_filename=init.mp4",
        r"hls_segment_options=movflags\\=+cmaf", f"hls_segment_filename={FLAC_STREAM_DIR}/seg_%05d.m4s",
    ])  # fmt: skip
    tee = f"[{stream}]{FLAC_STREAM_DIR}/index.m3u8|[f=flac:onfail=abort:fflags=+bitexact]{FLAC_PATH}"
    # FLAC in MP4 is "experimental" to ffmpeg 5.1's muxer (the dfLa box of the FLAC-in-ISOBMFF spec).
    return [*encode, "-strict", "-2", "-map_metadata", "-1", "-flags:a", "+bitexact", "-f", "tee", tee]


def _lossy_output(plan: _Plan, job: _Job, label: str, work: Path) -> list[str]:
    """Output arguments for an AAC HLS rendition or the MP3 download."""
    if job.kind == "mp3":
        return [
            "-map", label, "-c:a", "libmp3lame", "-b:a", f"{job.bitrate_kbps}k",
            "-map_metadata", "-1", "-f", "mp3", str(work / _mp3_path(job.bitrate_kbps)),
        ]  # fmt: skip
    variant = work / "hls" / _aac_name(job.bitrate_kbps)
    return ["-map", label, "-c:a", "aac", "-b:a", f"{job.bitrate_kbps}k", *_cmaf_hls(plan, variant)]


def _cmaf_hls(plan: _Plan, variant: Path) -> list[str]:
    return cmaf_hls_args(plan.segment_sec, variant)


def cmaf_hls_args(segment_sec: float, variant: Path) -> list[str]:
    """A CMAF track as an HLS rendition: one track per file, `cmfc` in the init's ftyp, and each segment
    a `styp` + `sidx` + one `moof`/`mdat` fragment (the mp4 muxer's `cmaf` flag), so the same files are
    the DASH representation in the MPD beside the master (`ingest/dash.py`)."""
    return [
        "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact",
        "-f", "hls", "-hls_time", _num(segment_sec), "-hls_playlist_type", "vod",
        "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
        "-hls_segment_options", "movflags=+cmaf",
        "-hls_segment_filename", str(variant / "seg_%05d.m4s"), str(variant / "index.m3u8"),
    ]  # fmt: skip


class _Proc:
    """A running ffmpeg with its stderr drained in a thread, so a chatty ffmpeg never blocks on it."""

    def __init__(self, name: str, args: list[str], *, pcm: bool, cwd: Path) -> None:
        self.name = name
        self.popen = ffmpeg.spawn(args, stdout=subprocess.PIPE if pcm else subprocess.DEVNULL, cwd=cwd)
        self.stderr: collections.deque[str] = collections.deque(maxlen=_STDERR_LINES)
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()

    def _read_stderr(self) -> None:
        assert self.popen.stderr is not None
        for line in iter(self.popen.stderr.readline, b""):
            self.stderr.append(line.decode(errors="replace").rstrip())

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait()

    def close(self) -> None:
        self._drain.join(timeout=5)
        for stream in (self.popen.stdout, self.popen.stderr):
            if stream is not None:
                stream.close()

    def error(self) -> str:
        # The process has exited: let the drain thread reach EOF first, or the message may be missed.
        self._drain.join(timeout=5)
        tail = [line for line in self.stderr if line][-5:]
        return f"ffmpeg {self.name} exited with {self.popen.returncode}: {' | '.join(tail) or 'no message'}"


def _run_encoders(plan: _Plan, work: Path, *, timeout: float) -> waveform.PeakAccumulator:
    """Run the planned ffmpeg processes concurrently, feeding the PCM tap to a PeakAccumulator."""
    peaks = waveform.PeakAccumulator(plan.sample_rate, plan.channels, plan.spp)
    procs: list[_Proc] = []
    reader_error: list[BaseException] = []
    reader: threading.Thread | None = None
    try:
        for i, jobs in enumerate(plan.jobs):
            taps = any(j.kind == "taps" for j in jobs)
            names = "+".join(f"{j.kind}{j.bitrate_kbps or ''}" for j in jobs)
            proc = _Proc(
                f"{'AB'[i] if i < 2 else i} ({names})", _process_args(plan, jobs, work), pcm=taps, cwd=work
            )
            procs.append(proc)
            if taps:
                reader = threading.Thread(target=_read_pcm, args=(proc, peaks, reader_error), daemon=True)
                reader.start()
        deadline = time.monotonic() + timeout
        while True:
            codes = [p.popen.poll() for p in procs]
            failed = next((p for p, c in zip(procs, codes, strict=True) if c not in (None, 0)), None)
            if failed is not None:
                raise StageError(STAGE, failed.error())
            if reader_error:
                raise StageError(STAGE, f"reading the PCM tap failed: {reader_error[0]}")
            if all(c == 0 for c in codes):
                break
            if time.monotonic() > deadline:
                raise StageError(STAGE, f"ffmpeg took longer than {timeout:.0f} s", retryable=True)
            time.sleep(0.05)
        if reader is not None:
            reader.join(timeout=30)
            if reader.is_alive():
                raise StageError(STAGE, "the PCM tap reader did not finish")
            if reader_error:
                raise StageError(STAGE, f"reading the PCM tap failed: {reader_error[0]}")
        return peaks
    finally:
        for p in procs:
            p.kill()  # no-op for those that exited; stops the rest after any failure
        if reader is not None:
            reader.join(timeout=5)
        for p in procs:
            p.close()


def _read_pcm(proc: _Proc, peaks: waveform.PeakAccumulator, errors: list[BaseException]) -> None:
    """Drain the PCM pipe to the end; ffmpeg blocks (it never deadlocks) if we fall behind."""
    stream = proc.popen.stdout
    assert stream is not None
    try:
        for chunk in iter(lambda: stream.read(_PCM_CHUNK), b""):
            peaks.feed(chunk)
    except BaseException as exc:  # reported by the waiting thread
        errors.append(exc)


def _check_outputs(work: Path, plan: _Plan) -> None:
    """Every expected file exists and is non-empty (an encoder that wrote nothing is a failure)."""
    if not (work / FINGERPRINT_PATH).is_file():
        raise StageError(STAGE, f"ffmpeg finished but wrote no {FINGERPRINT_PATH}")
    # An empty fingerprint is legitimate (too short or silent); the fingerprint stage decides about it.
    expected = [work / _mp3_path(plan.mp3_kbps)]
    if plan.flac_bits:
        expected.append(work / FLAC_PATH)
    for jobs in plan.jobs:
        expected += [work / "hls" / _aac_name(j.bitrate_kbps) / "index.m3u8" for j in jobs if j.kind == "aac"]
        expected += [work / FLAC_STREAM_DIR / "index.m3u8" for j in jobs if j.kind == "flac"]
    missing = [str(p.relative_to(work)) for p in expected if not p.is_file() or p.stat().st_size == 0]
    if missing:
        raise StageError(STAGE, f"ffmpeg finished but wrote nothing to {', '.join(missing)}")


def _replace_dir(work: Path, out_dir: Path) -> None:
    """Move the finished temp dir into place; an existing out_dir is swapped out, then removed."""
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
        old.rmdir()
        out_dir.rename(old)
        work.rename(out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        work.rename(out_dir)


def _lossy_reason(source: Path, codec: str | None) -> str:
    """Why no FLAC was made, naming the source codec."""
    if codec is None:
        try:
            streams = ffmpeg.probe(source).get("streams", [])
            codec = next((s.get("codec_name") for s in streams if s.get("codec_type") == "audio"), None)
        except ffmpeg.FFmpegError:
            codec = None
    return f"source is lossy ({codec or 'lossy codec'}); a FLAC made from it would not be hi-fi"


def _aac_name(kbps: int) -> str:
    return f"aac_{kbps}"


def _mp3_path(kbps: int) -> str:
    return f"download/mp3_{kbps}.mp3"


def _num(value: float) -> str:
    """A number for ffmpeg without a pointless '.0'."""
    return str(int(value)) if float(value).is_integer() else repr(value)
