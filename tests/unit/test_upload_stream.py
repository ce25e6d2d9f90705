"""Multipart uploads streamed through `receive_upload` by a real Starlette Request (an ASGI scope and a
receive callable), in chunks of any size and cut off anywhere: the result is the complete, byte-identical
file and fields, or UploadRejected; a refused or abandoned upload leaves no temp file behind, and an
upload being received is locked against the start-up cleaner."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from cadenza.errors import InvalidInput
from cadenza.ingest.leftovers import try_lock
from cadenza.web.upload import ReceivedUpload, UploadRejected, receive_upload

Message = dict[str, object]


def multipart(boundary: str, fields: list[tuple[str, str]], filename: str, content: bytes) -> bytes:
    b = boundary.encode()
    out = b""
    for name, value in fields:
        out += b"--" + b + f'\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    out += b"--" + b + f'\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'.encode()
    out += b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n--" + b + b"--\r\n"
    return out


def _receive(body: bytes, sizes: list[int]) -> Callable[[], Awaitable[Message]]:
    """An ASGI receive callable sending `body` in chunks of the given sizes (cycled)."""
    chunks, i, k = [], 0, 0
    while i < len(body):
        n = sizes[k % len(sizes)]
        chunks.append(body[i : i + n])
        i, k = i + n, k + 1
    queue = chunks or [b""]

    async def receive() -> Message:
        chunk = queue.pop(0) if queue else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(queue)}

    return receive


def _request(boundary: str, receive: Callable[[], Awaitable[Message]], **headers: str) -> Request:
    raw = [(b"content-type", f"multipart/form-data; boundary={boundary}".encode())]
    raw += [(k.replace("_", "-").encode(), v.encode("latin-1")) for k, v in headers.items()]
    scope = {"type": "http", "method": "POST", "path": "/api/tracks", "headers": raw, "query_string": b""}
    return Request(scope, receive)  # type: ignore[arg-type]


def _run(request: Request, dest: Path, limit: int = 1 << 20) -> ReceivedUpload:
    return asyncio.run(receive_upload(request, dest=dest, limit=limit))


@given(
    boundary=st.from_regex(r"[A-Za-z0-9'()+_,./:=?-]{1,60}[A-Za-z0-9]", fullmatch=True),
    fields=st.lists(
        st.tuples(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), st.text(st.characters(codec="utf-8"))),
        max_size=3,
    ),
    filename=st.from_regex(r"[A-Za-z0-9 _-]{1,20}\.mp3", fullmatch=True),
    content=st.binary(max_size=3000),
    sizes=st.lists(st.integers(min_value=1, max_value=700), min_size=1, max_size=8),
    data=st.data(),
)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_body_cut_anywhere_is_refused_and_a_whole_one_arrives_intact(
    tmp_path: Path,
    boundary: str,
    fields: list[tuple[str, str]],
    filename: str,
    content: bytes,
    sizes: list[int],
    data: st.DataObject,
) -> None:
    fields = [(n, v) for n, v in fields if n != "file"]
    assume(all(boundary.encode() not in part for part in [content, *(v.encode() for _, v in fields)]))
    body = multipart(boundary, fields, filename, content)
    closed = body.rindex(b"--\r\n") + 2  # the closing boundary's last byte
    cut = data.draw(st.one_of(st.just(len(body)), st.integers(min_value=0, max_value=len(body))), label="cut")
    dest = tmp_path / f"uploads-{os.urandom(4).hex()}"
    try:
        result = _run(_request(boundary, _receive(body[:cut], sizes)), dest)
    except UploadRejected as exc:
        event("refused")
        assert cut < closed, f"a complete body was refused: {exc.reason}"
        assert exc.status == 400
        assert not dest.exists() or list(dest.iterdir()) == []  # nothing left behind
        return
    event("accepted")
    assert cut >= closed, "a body without its closing boundary was accepted"
    assert result.path is not None and result.path.read_bytes() == content
    assert result.size == len(content) and result.sha256 == hashlib.sha256(content).hexdigest()
    assert result.filename == filename
    expected: dict[str, list[str]] = {}
    for name, value in fields:
        expected.setdefault(name, []).append(value)
    assert result.fields == expected
    probe = os.open(result.path, os.O_RDONLY)
    try:
        assert not try_lock(probe)  # still held: the caller has not let go of the file
    finally:
        os.close(probe)
    result.discard()
    assert list(dest.iterdir()) == []


def _simple(content: bytes = b"ID3" + bytes(500), **fields: str) -> tuple[str, bytes]:
    boundary = "cadenza-test-boundary"
    return boundary, multipart(boundary, list(fields.items()), "song.mp3", content)


def test_the_cases_that_used_to_pass_or_crash(tmp_path: Path) -> None:
    boundary, body = _simple(title="Song")
    cut_mid_file = body[: body.index(b"ID3") + 100]
    with pytest.raises(UploadRejected, match="ended before its closing boundary"):
        _run(_request(boundary, _receive(cut_mid_file, [64])), tmp_path)
    without_final_dashes = body[: body.rindex(b"--\r\n")]  # "--boundary" but never "--boundary--"
    with pytest.raises(UploadRejected, match="ended before its closing boundary"):
        _run(_request(boundary, _receive(without_final_dashes, [1000])), tmp_path)
    with pytest.raises(UploadRejected, match="Content-Length") as exc:
        _run(
            _request(boundary, _receive(body, [1000]), content_length="\u00b2"), tmp_path
        )  # isdigit() said yes
    assert exc.value.status == 400
    assert list(tmp_path.iterdir()) == []


def test_undecodable_fields_and_file_names_are_refused_by_name(tmp_path: Path) -> None:
    boundary, body = _simple(title="Song")
    bad_field = body.replace(b"Song", b"S\xffng")
    with pytest.raises(InvalidInput, match="form field 'title' is not valid UTF-8"):
        _run(_request(boundary, _receive(bad_field, [50])), tmp_path)
    bad_name = body.replace(b'filename="song.mp3"', b'filename="so\x00ng.mp3"')
    with pytest.raises(InvalidInput, match="file name contains a NUL"):
        _run(_request(boundary, _receive(bad_name, [50])), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_upload_abandoned_midway_leaves_nothing(tmp_path: Path) -> None:
    boundary, body = _simple(content=bytes(5000))
    for ending in ("disconnect", "cancelled"):
        sent = [body[:3000]]

        async def receive(ending: str = ending, sent: list[bytes] = sent) -> Message:
            if sent:
                return {"type": "http.request", "body": sent.pop(), "more_body": True}
            if ending == "disconnect":
                return {"type": "http.disconnect"}
            raise asyncio.CancelledError  # the server cancels the request's task

        expected = UploadRejected if ending == "disconnect" else asyncio.CancelledError
        with pytest.raises(expected):
            _run(_request(boundary, receive), tmp_path)
        assert list(tmp_path.iterdir()) == [], ending


def test_an_upload_over_the_limit_leaves_nothing(tmp_path: Path) -> None:
    boundary, body = _simple(content=bytes(5000))
    with pytest.raises(UploadRejected) as exc:
        _run(_request(boundary, _receive(body, [512])), tmp_path, limit=1000)
    assert exc.value.status == 413 and list(tmp_path.iterdir()) == []


def test_a_full_disk_is_the_servers_507_and_leaves_nothing(tmp_path: Path) -> None:
    """No room on the upload disk is not the body's fault: 507 (try later), never "malformed"."""
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(small)], check=False)
    if mounted.returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        boundary, body = _simple(content=bytes(200_000))
        with pytest.raises(UploadRejected) as exc:
            _run(_request(boundary, _receive(body, [8192])), small)
        assert exc.value.status == 507 and "no room" in exc.value.reason
        assert list(small.iterdir()) == []
    finally:
        subprocess.run(["umount", str(small)], check=False)
