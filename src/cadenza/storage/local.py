"""Object store in a local directory; writes are atomic (temp file + rename)."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from cadenza.storage.base import ObjectStat, check_key


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        # resolve() follows symlinks: a link pointing out of the store is refused too.
        if not path.is_relative_to(self.root):
            raise FileNotFoundError(key)
        return path

    def put_file(
        self, key: str, path: Path, *, content_type: str | None = None, disposable: bool = False
    ) -> None:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
        os.close(fd)
        try:
            linked = False
            if disposable:
                # The caller drops its copy (pipeline scratch space, upload temp files): on the same
                # filesystem, publish by hard link instead of copying. Never for a user's own file,
                # which they may later edit in place.
                try:
                    os.unlink(tmp)
                    os.link(path, tmp)
                    linked = True
                except OSError:
                    pass
            if not linked:
                shutil.copyfile(path, tmp)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_bytes(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def exists(self, key: str) -> bool:
        try:
            return self._path(key).is_file()
        except (FileNotFoundError, ValueError):
            return False

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size

    def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        self._prune(path.parent)

    def delete_prefix(self, prefix: str) -> int:
        base = self._path(prefix.rstrip("/"))
        if not base.exists():
            return 0
        count = sum(1 for p in base.rglob("*") if p.is_file())
        shutil.rmtree(base) if base.is_dir() else base.unlink()
        self._prune(base.parent)
        return count

    def _prune(self, folder: Path) -> None:
        """Remove folders left empty, up to the store's root (an object store has no empty folders)."""
        while folder != self.root and folder.is_relative_to(self.root):
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent

    def list(self, prefix: str) -> list[str]:
        base = self._path(prefix.rstrip("/"))
        if not base.is_dir():
            return []
        return sorted(
            str(p.relative_to(self.root))
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".tmp-")
        )

    def scan(self, prefix: str = "") -> Iterator[tuple[str, ObjectStat]]:
        base = self._path(prefix.rstrip("/")) if prefix.strip("/") else self.root
        if not base.is_dir():
            return
        for folder, _, names in os.walk(base):
            for name in names:
                if name.startswith(".tmp-"):  # a write in progress (or a crashed one's leftover)
                    continue
                path = Path(folder) / name
                try:
                    st = path.lstat()
                except FileNotFoundError:  # deleted meanwhile
                    continue
                if stat.S_ISREG(st.st_mode):
                    etag = f'"{st.st_size:x}-{st.st_mtime_ns:x}"'
                    yield path.relative_to(self.root).as_posix(), ObjectStat(st.st_size, st.st_mtime, etag)

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def stat(self, key: str) -> ObjectStat:
        st = self._path(key).stat()
        if not stat.S_ISREG(st.st_mode):
            raise FileNotFoundError(key)
        return ObjectStat(size=st.st_size, mtime=st.st_mtime, etag=f'"{st.st_size:x}-{st.st_mtime_ns:x}"')

    def read_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        with self._path(key).open("rb") as fh:
            fh.seek(start)
            left = end - start + 1
            while left > 0 and (chunk := fh.read(min(left, 512 * 1024))):
                left -= len(chunk)
                yield chunk

    @contextmanager
    def fetch(self, key: str) -> Iterator[Path]:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        yield path

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.is_file() else None
