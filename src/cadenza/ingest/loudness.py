"""The loudness tap on the transcode's decode: ffmpeg's `ebur128` filter (ITU-R BS.1770-4, EBU R128,
true peak by 4-times oversampling to 192 kHz) on one more `asplit` branch of the process that already writes
the PCM and Chromaprint taps, so no second decode is made.

`ebur128=metadata=1` attaches its running figures to each 100 ms frame; `ametadata` filters write the
ones we keep into `analysis/`: every momentary loudness `M` (the 400 ms gating blocks, one per 100 ms,
kept as a histogram; the integrated loudness is gated from it by `catalog/loudness.py`, the same code
that gates an album), every short-term loudness `S` (3 s windows, for the loudness range) and the running
true peak over all channels. ffmpeg's log summary would need `-loglevel info` and parsing of free text
(and rounds to 0.1); the metadata lines are a stable format.

The metadata are printed with three decimals, and the true peak is a linear amplitude: 0.001 of a
-40 dBTP peak (0.01) is 0.4 dB. So the branch first raises the level by exactly +40 dB in double
precision (`volume`, no clipping: ebur128 works on doubles), and `read` takes the 40 dB off every figure:
the true peak is then good to 0.0001 dB at full scale and 0.004 dB at -40 dBTP. ffmpeg's own integrated
loudness and loudness range come from histograms that stop at +10 LUFS, which boosted audio passes: so
both are computed here from M and S (which ffmpeg computes directly from the energy, unbounded), the
loudness range as EBU Tech 3342 defines it (short-term values gated at -70 LUFS and at -20 LU under
their energy mean, 95th minus 10th percentile).

Cost, measured with getrusage on a 4-min stereo 44.1 kHz FLAC: ebur128 with true peak 1.8 s CPU (the
192 kHz resampling is most of it; without true peak 0.5 s), so the tap is counted in the transcode's
balance of work over its two processes.
"""

from __future__ import annotations

import math
from pathlib import Path

from cadenza.catalog.loudness import Blocks, Loudness, loudness_range
from cadenza.ingest import ffmpeg

DIR = "analysis"
_KEYS = {"M": "loudness_m.txt", "S": "loudness_s.txt", "true_peak": "loudness_tp.txt"}
_BOOST_DB = 40.0
COST_SEC = 1.8  # CPU s per 4 min of stereo 44.1 kHz (see above)


def _escape(path: Path) -> str:
    """A file name as a filter option value inside a filtergraph: ffmpeg's two escaping levels."""
    value = str(path)
    for ch in ("\\", "'", ":"):  # option value level
        value = value.replace(ch, "\\" + ch)
    for ch in ("\\", "'", "[", "]", ",", ";"):  # filtergraph level
        value = value.replace(ch, "\\" + ch)
    return value


def filter_chain(label: str, out_dir: Path, *, output: str | None = None) -> str:
    """The filtergraph branch for the input pad `label`, writing its files into `out_dir`; it ends in a
    sink, or in the output pad `output` (for a run whose only output is this measurement)."""
    prints = [
        f"ametadata=mode=print:key=lavfi.r128.{key}:file={_escape(out_dir / name)}"
        for key, name in _KEYS.items()
    ]
    boost = f"volume={_BOOST_DB:g}dB:precision=double"
    end = f"[{output}]" if output else ",anullsink"
    return f"[{label}]{boost},ebur128=peak=true:metadata=1,{','.join(prints)}{end}"


def files(out_dir: Path) -> list[Path]:
    """The files the branch writes."""
    return [out_dir / name for name in _KEYS.values()]


def _values(path: Path, key: str) -> list[float]:
    """Every value of `lavfi.r128.<key>` in an `ametadata` print file, in frame order."""
    prefix = f"lavfi.r128.{key}="
    out: list[float] = []
    with path.open(encoding="ascii", errors="replace") as f:
        for line in f:
            if line.startswith(prefix):
                try:
                    out.append(float(line[len(prefix) :]))
                except ValueError:
                    continue
    return out


def read(out_dir: Path) -> Loudness:
    """The measurement from the files the branch wrote (ValueError if they hold none)."""
    m = _values(out_dir / _KEYS["M"], "M")
    short = _values(out_dir / _KEYS["S"], "S")
    tp = _values(out_dir / _KEYS["true_peak"], "true_peak")
    if not (m and short and tp):
        raise ValueError("the loudness tap wrote no measurement")
    # The first three frames close before a whole 400 ms block exists (ebur128 reports silence for them),
    # the first 29 before a whole 3 s window does.
    blocks = Blocks.of(value - _BOOST_DB for value in m[3:])
    integrated = blocks.integrated_lufs()
    peak = max(tp)
    return Loudness(
        integrated_lufs=None if integrated is None else round(integrated, 2),
        range_lu=round(loudness_range(v - _BOOST_DB for v in short[29:]), 2),
        true_peak_dbtp=round(20 * math.log10(peak) - _BOOST_DB, 2) if peak > 0 else None,
        blocks=blocks,
    )


def measure(source: Path, *, scratch: Path, timeout: float) -> Loudness:
    """Measure a stored file on its own (reprocessing the catalog): one decode, nothing encoded. Same
    filters as the transcode's tap, so a track measured either way reads the same from the same source."""
    scratch.mkdir(parents=True, exist_ok=True)
    chain = filter_chain("0:a:0", scratch, output="out")
    ffmpeg.run(
        ["-i", str(Path(source).resolve()), "-filter_complex", chain, "-map", "[out]", "-f", "null", "-"],
        timeout=timeout,
    )
    try:
        return read(scratch)
    finally:
        for path in files(scratch):
            path.unlink(missing_ok=True)
