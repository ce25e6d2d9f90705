"""Streaming multipart/form-data reception: the file part goes straight to disk, hashed on the way, and
the request is cut off as soon as it passes the size limit (nothing is held in memory)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from cadenza.errors import CadenzaError

FIELD_LIMIT = 64 * 1024
MAX_FIELDS = 100


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

    def discard(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


class _Receiver:
    def __init__(self, dest: Path, limit: int, file_field: str) -> None:
        self.dest, self.limit, self.file_field = dest, limit, file_field
        self.result = ReceivedUpload()
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
            self.result.filename = name[:255] or None
            fd, tmp = tempfile.mkstemp(dir=self.dest, prefix="upload-")
            self.result.path = Path(tmp)
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
            self.result.fields.setdefault(self._name, []).append(self._value.decode("utf-8", "replace"))

    def close(self) -> None:
        if self._fh is not None and not self._fh.closed:
            self._fh.close()


async def receive_upload(
    request: Request, *, dest: Path, limit: int, file_field: str = "file"
) -> ReceivedUpload:
    """Read a multipart request whose file part is named `file_field` into `dest`."""
    ctype, options = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or b"boundary" not in options:
        raise UploadRejected("expected a multipart/form-data body with a 'file' part", 415)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit + 1024 * 1024:
        raise UploadRejected(f"request of {declared} bytes is over the {limit} byte upload limit", 413)
    dest.mkdir(parents=True, exist_ok=True)
    receiver = _Receiver(dest, limit, file_field)
    callbacks = {name: getattr(receiver, name) for name in dir(receiver) if name.startswith("on_")}
    parser = MultipartParser(options[b"boundary"], callbacks)  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except UploadRejected:
        receiver.close()
        receiver.result.discard()
        raise
    except Exception as exc:
        receiver.close()
        receiver.result.discard()
        raise UploadRejected(f"malformed multipart body: {exc}", 400) from exc
    receiver.close()
    if receiver.result.path is None:
        raise UploadRejected(f"no file part named {file_field!r} in the form", 400)
    receiver.result.sha256 = receiver._hash.hexdigest()
    return receiver.result
