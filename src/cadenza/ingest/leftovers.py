"""What a crashed process leaves on disk, found and removed at start (before interrupted tracks resume).

- Upload temp files (`upload-*` in the uploads directory). The process receiving an upload holds an
  exclusive `flock` on its temp file from creation until it hands the file off (web/upload.py). The
  kernel drops the lock when its holder dies, however it dies (SIGKILL, OOM, power loss of a container),
  so a file whose lock can be taken is nobody's: its writer is gone. A file another process is still
  receiving stays locked and is kept, so several server processes may share one data directory.
- Scratch work directories (`work_dir/<track id>/<media version>/`, see pipeline._work_dir) of tracks that
  no longer need them: the track is gone, ready (published: its outputs are in the store) or failed.
  Directories of tracks still `processing` are kept: the runner resumes those, and a later stage reads
  what an earlier one left there. A directory changed within the last `ingest.stage_timeout_sec` is
  kept too: a worker of another process may be re-publishing that track right now (publishing a ready
  track again is allowed), and no stage runs longer than that.

Nothing else under these directories is touched (names that are not ours are left alone)."""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from cadenza.catalog.models import Track, TrackStatus
from cadenza.ingest.pipeline import Collaborators

log = logging.getLogger(__name__)

UPLOAD_PREFIX = "upload-"  # the temp files of uploads being received (web/upload.py makes them)
_TRACK_DIR = re.compile(r"[1-9][0-9]{0,17}")  # a track id as pipeline._work_dir names it (fits BIGINT)


@dataclass(frozen=True)
class CleanupReport:
    uploads_removed: int = 0
    uploads_in_progress: int = 0
    work_dirs_removed: int = 0
    work_dirs_kept: int = 0


def try_lock(fd: int) -> bool:
    """Take the exclusive lock on an open file without waiting; False if another open file holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def clean_leftovers(c: Collaborators, *, clock: Callable[[], float] = time.time) -> CleanupReport:
    """Remove dead uploads' temp files and unneeded work directories; log one line with the counts."""
    removed, live = _clean_uploads(c.settings.uploads_path)
    dirs_removed, dirs_kept = _clean_work_dirs(c, now=clock())
    report = CleanupReport(removed, live, dirs_removed, dirs_kept)
    log.info(
        "leftovers: removed %d dead upload(s) (%d in progress kept), %d work dir(s) (%d kept)",
        report.uploads_removed,
        report.uploads_in_progress,
        report.work_dirs_removed,
        report.work_dirs_kept,
    )
    return report


def _clean_uploads(directory: Path) -> tuple[int, int]:
    removed = live = 0
    if not directory.is_dir():
        return 0, 0
    for path in directory.glob(f"{UPLOAD_PREFIX}*"):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue  # gone meanwhile, or not a plain file of ours
        try:
            if not try_lock(fd):
                live += 1
                continue
            # Locked by us now: a writer starting this instant checks, after taking its own lock, that its
            # path still names its file (web/upload.py), so unlinking under the lock is safe.
            if os.path.samestat(os.fstat(fd), os.stat(path, follow_symlinks=False)):
                path.unlink()
                removed += 1
        except FileNotFoundError:
            pass
        finally:
            os.close(fd)
    return removed, live


def _clean_work_dirs(c: Collaborators, *, now: float) -> tuple[int, int]:
    root = c.settings.work_path
    if not root.is_dir():
        return 0, 0
    dirs = {int(p.name): p for p in root.iterdir() if _TRACK_DIR.fullmatch(p.name) and p.is_dir()}
    if not dirs:
        return 0, 0
    with c.sessions() as s:
        processing = set(
            s.scalars(
                select(Track.id).where(Track.id.in_(list(dirs)), Track.status == TrackStatus.processing)
            )
        )
    grace = c.settings.ingest.stage_timeout_sec
    removed = kept = 0
    for track_id, path in sorted(dirs.items()):
        if track_id in processing or now - _last_change(path) < grace:
            kept += 1
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed += 1
    return removed, kept


def _last_change(path: Path) -> float:
    """When the directory or one of its version directories last gained or lost an entry (now if it is
    being changed under us: then it is not ours to remove)."""
    try:
        return max([path.stat().st_mtime] + [p.stat().st_mtime for p in path.iterdir() if p.is_dir()])
    except FileNotFoundError:
        return float("inf")
