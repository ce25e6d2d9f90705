"""The pure parts of content protection: cenc over real CMAF files (made by ffmpeg here), the Clear Key
wire format, and envelope encryption of content keys."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import m3u8
import pytest

from audio import make_audio
from cadenza.errors import InvalidInput
from cadenza.ingest import transcode as tc
from cadenza.protection import cenc, clearkey, envelope

KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
KID = bytes.fromhex("0123456789abcdef0123456789abcdef")


@pytest.fixture(scope="module")
def cmaf(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, list[bytes]]:
    """A clear CMAF AAC rendition (init + 2 segments), packaged exactly as ingest does."""
    tmp = tmp_path_factory.mktemp("cmaf")
    source = make_audio(tmp / "s.flac", duration=5, seed=4)
    out = tmp / "aac"
    out.mkdir()
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(source),
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            *tc.cmaf_hls_args(3, out),
        ],
        check=True,
    )
    playlist = m3u8.load(str(out / "index.m3u8"))
    return (out / "init.mp4").read_bytes(), [(out / s.uri).read_bytes() for s in playlist.segments]


def _top(data: bytes) -> list[tuple[bytes, int]]:
    boxes, pos = [], 0
    while pos < len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        boxes.append((kind, size))
        pos += size
    return boxes


def _decode(path: Path, key: bytes | None) -> subprocess.CompletedProcess[bytes]:
    args = ["ffmpeg", "-v", "error", *(["-decryption_key", key.hex()] if key else []), "-i", str(path)]
    return subprocess.run([*args, "-f", "s16le", "-"], capture_output=True, check=False)


def test_an_encrypted_segment_keeps_its_shape_and_decrypts_back(cmaf: tuple[bytes, list[bytes]]) -> None:
    _, segments = cmaf
    clear = segments[0]
    enc = cenc.encrypt_segment(clear, key=KEY)
    assert [k for k, _ in _top(enc)] == [b"styp", b"sidx", b"moof", b"mdat"]
    sizes = dict(_top(enc))
    # the segment index still spans exactly the fragment, which grew by the senc/saiz/saio boxes
    sidx_at = enc.index(b"sidx") - 4
    times = 16 if enc[sidx_at + 8] == 1 else 8  # version 1: 64-bit earliest time and first offset
    referenced = struct.unpack_from(">I", enc, sidx_at + 8 + 4 + 4 + 4 + times + 4)[0] & 0x7FFFFFFF
    assert referenced == sizes[b"moof"] + sizes[b"mdat"]
    clear_mdat = clear[clear.index(b"mdat") + 4 :]
    assert enc[enc.index(b"mdat") + 4 :] != clear_mdat  # the audio is no longer readable
    assert cenc.decrypt_sample_check(enc, key=KEY) == clear_mdat


def test_each_sample_gets_its_own_iv(cmaf: tuple[bytes, list[bytes]]) -> None:
    enc = cenc.encrypt_segment(cmaf[1][0], key=KEY, iv_start=2**64 - 2)  # wraps around
    at = enc.index(b"senc") + 4
    count = struct.unpack_from(">I", enc, at + 4)[0]
    ivs = [enc[at + 8 + 8 * i : at + 16 + 8 * i] for i in range(count)]
    assert count > 100 and len(set(ivs)) == count
    assert ivs[:3] == [(2**64 - 2).to_bytes(8, "big"), (2**64 - 1).to_bytes(8, "big"), bytes(8)]


def test_ffmpeg_decodes_the_protected_file_with_the_key_and_not_without(
    cmaf: tuple[bytes, list[bytes]], tmp_path: Path
) -> None:
    init, segments = cmaf
    clear = tmp_path / "clear.mp4"
    clear.write_bytes(init + segments[0])
    protected = tmp_path / "protected.mp4"
    protected.write_bytes(cenc.encrypt_init(init, kid=KID) + cenc.encrypt_segment(segments[0], key=KEY))
    reference = _decode(clear, None).stdout
    good = _decode(protected, KEY)
    assert good.returncode == 0 and good.stdout == reference  # bit-exact: cenc is lossless
    wrong = _decode(protected, bytes(16))
    assert wrong.stdout != reference
    assert _decode(protected, None).stdout != reference


def test_the_init_segment_signals_cenc_with_the_kid_and_the_common_pssh(
    cmaf: tuple[bytes, list[bytes]],
) -> None:
    enc = cenc.encrypt_init(cmaf[0], kid=KID)
    assert b"enca" in enc and b"mp4a" in enc  # mp4a survives as the original format (frma)
    tenc = enc[enc.index(b"tenc") + 4 :]
    assert tenc[4:8] == bytes([0, 0, 1, 8]) and tenc[8:24] == KID  # protected, 8-byte IVs, default KID
    assert cenc.pssh(KID) in enc
    assert enc.index(b"schm") and b"cenc" in enc


def test_files_that_are_not_cmaf_are_refused(cmaf: tuple[bytes, list[bytes]]) -> None:
    with pytest.raises(cenc.CencError):
        cenc.encrypt_segment(cmaf[0], key=KEY)  # an init segment has no fragment
    with pytest.raises(cenc.CencError):
        cenc.encrypt_init(cmaf[1][0], kid=KID)  # a media segment has no moov
    with pytest.raises(cenc.CencError):
        cenc.encrypt_segment(b"\x00\x00\x00\x30junk", key=KEY)


def test_clear_key_requests_are_parsed_strictly() -> None:
    assert clearkey.parse_request(b'{"kids":["ASNFZ4mrze8BI0VniavN7w"],"type":"temporary"}') == [KID]
    too_many = b'{"kids": [' + b",".join([b'"ASNFZ4mrze8BI0VniavN7w"'] * 17) + b"]}"
    too_big = b'{"kids": ["ASNFZ4mrze8BI0VniavN7w"]' + b" " * 5000 + b"}"
    cases = [b"", b"[]", b'{"kids": []}', b'{"kids": ["abc"]}', b'{"kids": [7]}', b'{"kids": "x"}',
             '{"kids": ["é"]}'.encode(), b"\xff\xfe", too_many, too_big]  # fmt: skip
    for bad in cases:
        with pytest.raises(InvalidInput):
            clearkey.parse_request(bad)


def test_a_licence_is_a_jwk_set_in_base64url() -> None:
    assert clearkey.licence({KID: KEY}) == {
        "keys": [{"kty": "oct", "kid": "ASNFZ4mrze8BI0VniavN7w", "k": "ABEiM0RVZneImaq7zN3u_w"}],
        "type": "temporary",
    }


def test_wrapped_keys_open_only_under_their_master_track_and_kid() -> None:
    masters = envelope.MasterKeys(active="a", keys={"a": bytes(32), "b": bytes(range(32))})
    master_id, wrapped = envelope.wrap(masters, track_id=7, kid=KID, key=KEY)
    assert master_id == "a" and KEY not in wrapped
    assert envelope.unwrap(masters, master_id="a", track_id=7, kid=KID, wrapped=wrapped) == KEY
    for kwargs in (
        {"master_id": "b", "track_id": 7, "kid": KID},
        {"master_id": "a", "track_id": 8, "kid": KID},
        {"master_id": "a", "track_id": 7, "kid": bytes(16)},
        {"master_id": "gone", "track_id": 7, "kid": KID},
    ):
        with pytest.raises(envelope.UnwrapError):
            envelope.unwrap(masters, wrapped=wrapped, **kwargs)  # type: ignore[arg-type]
    tampered = wrapped[:-1] + bytes([wrapped[-1] ^ 1])
    with pytest.raises(envelope.UnwrapError):
        envelope.unwrap(masters, master_id="a", track_id=7, kid=KID, wrapped=tampered)
