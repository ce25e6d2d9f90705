"""The object-store interface that every storage backend implements, and key validation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from cadenza.errors import InvalidInput

# Keys are relative, slash-separated, from a small alphabet: nothing can climb out of the store.
_KEY = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]*(/[A-Za-z0-9_\-][A-Za-z0-9_.\-]*)*$")


def check_key(key: str) -> str:
    """Return `key` if it is a safe object key, else raise InvalidInput."""
    if not key or len(key) > 1000 or not _KEY.match(key) or any(p in {".", ".."} for p in key.split("/")):
        raise InvalidInput(f"invalid object key {key!r}")
    return key


@dataclass(frozen=True)
class ObjectStat:
    size: int
    mtime: float
    etag: str  # quoted strong validator


class ObjectStore(Protocol):
    """A flat key → bytes store (a local directory or an S3 bucket)."""

    def put_file(
        self, key: str, path: Path, *, content_type: str | None = None, disposable: bool = False
    ) -> None:
        """Store the file at `path`; `disposable` means the caller will delete it (it may be moved)."""
        ...

    def put_bytes(self, key: str, data: bytes, *, content_type: str | None = None) -> None: ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int: ...

    def delete(self, key: str) -> None: ...

    def delete_prefix(self, prefix: str) -> int: ...

    def list(self, prefix: str) -> list[str]: ...

    def scan(self, prefix: str = "") -> Iterator[tuple[str, ObjectStat]]:
        """Every object under `prefix` ("" for the whole store) with its size and modification time, as
        the listing gives them (one request per 1,000 objects on S3, not one per object); in no
        particular order. Objects still being written are not listed."""
        ...

    def open(self, key: str) -> BinaryIO: ...

    def stat(self, key: str) -> ObjectStat:
        """Size, modification time and ETag; FileNotFoundError if absent."""
        ...

    def read_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        """The bytes start..end (inclusive), in chunks."""
        ...

    def fetch(self, key: str) -> AbstractContextManager[Path]:
        """A local file holding the object, for tools (ffmpeg) that need a path."""
        ...

    def local_path(self, key: str) -> Path | None:
        """The file behind `key` when the store is a local directory (for sendfile), else None."""
        ...


def iter_file(fh: BinaryIO, chunk: int = 256 * 1024) -> Iterator[bytes]:
    with fh:
        while data := fh.read(chunk):
            yield data
