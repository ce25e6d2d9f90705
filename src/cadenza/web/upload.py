"""Streaming multipart/form-data reception: the file part goes straight to disk, hashed on the way, and
the request is cut off as soon as it passes the size limit (nothing is held in memory).

A body is complete only when its closing boundary arrived: python-multipart's `finalize()` does not check
(its own TODO), so a connection that drops mid-file used to leave a truncated file that was accepted as
the whole upload. Here the parser's `on_end` (fired on the closing boundary) must have been seen.

The temp file is locked (`flock`, exclusive) by the process receiving it from the moment it exists until
the caller lets go of it (`ReceivedUpload.discard`): the kernel drops the lock when that process dies,
which is how the start-up cleaner (ingest/leftovers.py) tells a dead upload from one another server
process is still receiving. On any failure (refused, malformed, cut off, cancelled) the file is deleted
before the error leaves."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from cadenza.errors import CadenzaError, InvalidInput
from cadenza.ingest.leftovers import UPLOAD_PREFIX, try_lock
from cadenza.web.validation import text_problem

FIELD_LIMIT = 64 * 1024
_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
MAX_FIELDS = 100
_DIGITS = re.compile(r"[0-9]{1,19}")  # more digits than that are beyond any limit


class UploadRejected(CadenzaError):
    """The request itself is unacceptable; `status` is the HTTP status to answer with."""

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.status = status


@dataclass
class ReceivedUpload:
    path: Path | None = None
    filename: str | None = None
    size: int = 0
    sha256: str = ""
    fields: dict[str, list[str]] = field(default_factory=dict)
    _lock: IO[bytes] | None = field(default=None, repr=False)

    def discard(self) -> None:
        """Delete the temp file (if the store did not take it) and release its lock."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def _locked_temp_file(dest: Path) -> tuple[int, Path, IO[bytes]]:
    """A new temp file in `dest`, locked: (its descriptor for writing, its path, the lock's handle).

    Between `mkstemp` and `flock` a cleaner in another process may take the lock and unlink the file; so
    after locking, the path must still name this file, else another is made."""
    for _ in range(5):
        fd, tmp = tempfile.mkstemp(dir=dest, prefix=UPLOAD_PREFIX)
        lock = os.fdopen(os.dup(fd), "rb")  # the lock lives on the open file, past the writer's close
        try:
            if try_lock(fd) and os.path.samestat(os.fstat(fd), os.stat(tmp)):
                return fd, Path(tmp), lock
        except FileNotFoundError:
            pass
        os.close(fd)
        lock.close()
    raise UploadRejected("could not create a temporary file for the upload", 503)


class _Receiver:
    def __init__(self, dest: Path, limit: int, file_field: str) -> None:
        self.dest, self.limit, self.file_field = dest, limit, file_field
        self.result = ReceivedUpload()
        self.ended = False
        self._hash = hashlib.sha256()
        self._fh: IO[bytes] | None = None
        self._name: str | None = None
        self._value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._hfield = bytearray()
        self._hvalue = bytearray()

    def on_part_begin(self) -> None:
        self._headers, self._name, self._value = {}, None, bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._hfield += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._hvalue += data[start:end]

    def on_header_end(self) -> None:
        self._headers[bytes(self._hfield).lower()] = bytes(self._hvalue)
        self._hfield, self._hvalue = bytearray(), bytearray()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if filename is not None and self._name == self.file_field:
            if self._fh is not None:
                raise UploadRejected("only one file may be uploaded per request", 400)
            # Browsers may send a full client path; keep only its last component.
            name = filename.decode("utf-8", "replace").replace("\\", "/").rsplit("/", 1)[-1]
            problem = text_problem(name)
            if problem is not None:  # it becomes a column and a title: refused before any byte is stored
                raise InvalidInput(f"the file name {problem}")
            self.result.filename = name[:255] or None
            fd, self.result.path, self.result._lock = _locked_temp_file(self.dest)
            self._fh = os.fdopen(fd, "wb")
        elif sum(len(v) for v in self.result.fields.values()) >= MAX_FIELDS:
            raise UploadRejected("too many form fields", 400)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._fh is not None and self._name == self.file_field and not self._fh.closed:
            self.result.size += len(chunk)
            if self.result.size > self.limit:
                raise UploadRejected(f"file is over the {self.limit} byte upload limit", 413)
            self._hash.update(chunk)
            self._fh.write(chunk)
        else:
            self._value += chunk
            if len(self._value) > FIELD_LIMIT:
                raise UploadRejected(f"form field {self._name!r} is too long", 400)

    def on_part_end(self) -> None:
        if self._fh is not None and self._name == self.file_field and not self._fh.closed:
            self._fh.close()
        elif self._name:
            try:
                value = self._value.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidInput(f"form field {self._name!r} is not valid UTF-8 text") from None
            self.result.fields.setdefault(self._name, []).append(value)

    def on_end(self) -> None:
        self.ended = True  # the closing boundary arrived

    def close(self) -> None:
        if self._fh is not None and not self._fh.closed:
            self._fh.close()


async def receive_upload(
    request: Request, *, dest: Path, limit: int, file_field: str = "file"
) -> ReceivedUpload:
    """Read a multipart request whose file part is named `file_field` into `dest`. The caller owns the
    result and calls `discard()` when done with the file (the lock is held until then)."""
    ctype, options = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or b"boundary" not in options:
        raise UploadRejected("expected a multipart/form-data body with a 'file' part", 415)
    declared = request.headers.get("content-length")
    if declared is not None:
        # ASCII digits only: `isdigit` takes '²' (a Latin-1 header byte), which `int` then refused.
        if not _DIGITS.fullmatch(declared):
            raise UploadRejected("the Content-Length header is not a number of bytes", 400)
        if int(declared) > limit + 1024 * 1024:
            raise UploadRejected(f"request of {declared} bytes is over the {limit} byte upload limit", 413)
    dest.mkdir(parents=True, exist_ok=True)
    receiver = _Receiver(dest, limit, file_field)
    try:
        callbacks = {name: getattr(receiver, name) for name in dir(receiver) if name.startswith("on_")}
        parser = MultipartParser(options[b"boundary"], callbacks)  # type: ignore[arg-type]
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
        if not receiver.ended:
            raise UploadRejected("the upload ended before its closing boundary", 400)
    except (UploadRejected, InvalidInput):
        _abandon(receiver)
        raise
    except OSError as exc:
        # The server's fault, not the body's: a full disk is 507 (the client may try again later).
        _abandon(receiver)
        if exc.errno in _NO_ROOM:
            raise UploadRejected(
                "the server has no room to store this upload now; try again later", 507
            ) from None
        raise UploadRejected("the upload could not be written; try again later", 503) from None
    except Exception as exc:
        _abandon(receiver)
        raise UploadRejected(f"malformed multipart body: {exc}", 400) from exc
    except BaseException:  # cancelled (client gone, server stopping): nothing may be left behind
        _abandon(receiver)
        raise
    receiver.close()
    if receiver.result.path is None:
        raise UploadRejected(f"no file part named {file_field!r} in the form", 400)
    receiver.result.sha256 = receiver._hash.hexdigest()
    return receiver.result


def _abandon(receiver: _Receiver) -> None:
    receiver.close()
    receiver.result.discard()


async def read_body(request: Request, *, limit: int, what: str) -> bytes:
    """A whole non-multipart body held in memory, refused with 413 as soon as it passes `limit` bytes
    (by its declared Content-Length before reading, or while reading when none is declared)."""
    declared = request.headers.get("content-length", "")
    if _DIGITS.fullmatch(declared) and int(declared) > limit:
        raise UploadRejected(f"{what} of {declared} bytes is over the {limit} byte limit", 413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise UploadRejected(f"{what} is over the {limit} byte limit", 413)
    return bytes(body)
