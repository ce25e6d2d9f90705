"""A media segment with no fragment (a bare `styp`, as ffmpeg 5.1's segmenter leaves after the last FLAC
fragment) holds no sample: the packager passes it through instead of failing the whole upload; anything
else that is not one moof + mdat is still refused."""

from __future__ import annotations

import struct

import pytest

from cadenza.protection import cenc

KEY = bytes(range(16))


def _box(kind: bytes, body: bytes = b"") -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def test_a_segment_without_samples_is_left_as_it_is() -> None:
    bare = _box(b"styp", b"msdh\x00\x00\x00\x00msdhmsix")
    assert cenc.encrypt_segment(bare, key=KEY) == bare


@pytest.mark.parametrize(
    "segment",
    [_box(b"styp") + _box(b"mdat", b"\x00" * 32), _box(b"styp") + _box(b"free"), b""],
    ids=["mdat-without-moof", "unknown-box", "empty"],
)
def test_anything_else_that_is_not_one_fragment_is_refused(segment: bytes) -> None:
    with pytest.raises(cenc.CencError):
        cenc.encrypt_segment(segment, key=KEY)
