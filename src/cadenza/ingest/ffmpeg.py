"""The only module that runs ffmpeg and ffprobe.

Everything else describes what it wants (arguments, outputs) and calls `run`, `spawn` or `probe`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

FFMPEG = shutil.which("ffmpeg") or "ffmpeg"
FFPROBE = shutil.which("ffprobe") or "ffprobe"

# ffmpeg prints its version banner and progress on stderr; we keep errors only.
_QUIET = ["-hide_banner", "-nostdin", "-loglevel", "error"]


class FFmpegError(RuntimeError):
    """ffmpeg or ffprobe exited non-zero; `stderr` holds its last words."""

    def __init__(self, returncode: int, stderr: str) -> None:
        tail = stderr.strip().splitlines()[-5:]
        super().__init__(f"ffmpeg exited with {returncode}: {' | '.join(tail) or 'no message'}")
        self.returncode = returncode
        self.stderr = stderr


def ffmpeg_args(args: Sequence[str]) -> list[str]:
    """The full argv for an ffmpeg run with our quiet defaults."""
    return [FFMPEG, *_QUIET, *args]


def run(args: Sequence[str], *, timeout: float | None = None) -> str:
    """Run ffmpeg to completion; return stderr (warnings); raise FFmpegError on failure."""
    proc = subprocess.run(ffmpeg_args(args), capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise FFmpegError(proc.returncode, proc.stderr)
    return proc.stderr


def spawn(
    args: Sequence[str], *, stdout: int | None = subprocess.DEVNULL, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start ffmpeg in the background (in `cwd` if given); stderr is piped so failures can be reported."""
    return subprocess.Popen(
        ffmpeg_args(args), stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE, cwd=cwd
    )


def probe(path: Path, *, timeout: float = 60) -> dict[str, Any]:
    """ffprobe's JSON view (format and streams) of a file; raise FFmpegError if it cannot read it."""
    proc = subprocess.run(
        [FFPROBE, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise FFmpegError(proc.returncode, proc.stderr)
    data: dict[str, Any] = json.loads(proc.stdout or "{}")
    return data


def fingerprint_raw(path: Path, *, timeout: float | None = 600) -> bytes:
    """The raw Chromaprint fingerprint of a file's first audio stream (whole track, default algorithm).

    Same muxer and options as the transcode stage's `-f chromaprint -fp_format raw` output, so both agree.
    """
    args = ffmpeg_args(["-i", str(path), "-map", "0:a:0", "-f", "chromaprint", "-fp_format", "raw", "-"])
    proc = subprocess.run(args, capture_output=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise FFmpegError(proc.returncode, proc.stderr.decode("utf-8", "replace"))
    return proc.stdout


def probe_report(path: Path, *, timeout: float = 60) -> tuple[dict[str, Any], str]:
    """Like `probe`, plus ffprobe's warnings (e.g. "Estimating duration from bitrate")."""
    proc = subprocess.run(
        [FFPROBE, "-v", "warning", "-print_format", "json", "-show_format", "-show_streams", str(path)],
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise FFmpegError(proc.returncode, proc.stderr)
    data: dict[str, Any] = json.loads(proc.stdout or "{}")
    return data, proc.stderr
