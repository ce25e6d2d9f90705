"""Common Encryption (ISO/IEC 23001-7, scheme `cenc`: AES-128 CTR, whole audio samples) of CMAF files.

Why here and not in ffmpeg: Debian's ffmpeg 5.1 encrypts fragmented MP4 with `-encryption_scheme
cenc-aes-ctr` but writes the sample IVs (`senc`/`saiz`/`saio`) once, into the `moov`, covering only
the first fragment; every later fragment has none, so nothing can decrypt it (checked: a decrypting
ffmpeg reads 4 s of a 13 s file, then "Incorrect number of samples in encryption info"). So Cadenza
encrypts the clear CMAF segments it already has: no re-encode, no re-mux, the content key never on a
command line, and one pass serves both a new upload and `cadenza repackage` of a published track.

Init segment: the sample entry (`mp4a`, `fLaC`) becomes `enca` with a `sinf` (`frma` original format,
`schm` cenc 1.0, `schi`/`tenc` default KID and 8-byte IVs), and `moov` gains the W3C common `pssh`
(system 1077efec-..., version 1, the KID) that Clear Key and the MPD's `cenc:pssh` use.
Media segment: each sample of the fragment is AES-CTR encrypted with counter block IV(8) || 0(8); the
`traf` gains `senc` (the IVs), `saiz` and `saio` (where they are), and the sizes that point past the
grown `moof` (`trun` data offset, `sidx` referenced size) are moved by as much.
"""

from __future__ import annotations

import os
import struct
import uuid
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

COMMON_SYSTEM_ID = uuid.UUID("1077efec-c0b2-4d02-ace3-3c1e52e2fb4b")  # W3C "cenc" initialization data
CLEARKEY_SYSTEM_ID = uuid.UUID("e2719d58-a985-b3c9-781a-b030af78d30e")  # DASH-IF Clear Key
IV_SIZE = 8
_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"moof", b"traf", b"mvex", b"edts", b"dinf"}
_AUDIO_ENTRIES = {b"mp4a", b"fLaC", b"Opus", b"ac-3", b"ec-3"}
_AUDIO_ENTRY_HEADER = 28  # SampleEntry (8) + AudioSampleEntry fields (20), before child boxes


class CencError(ValueError):
    """The file is not the CMAF shape this packager handles."""


@dataclass
class _Box:
    type: bytes
    payload: bytes = b""  # leaf boxes; for containers the bytes before the children (stsd, sample entry)
    children: list[_Box] | None = None

    def to_bytes(self) -> bytes:
        body = self.payload + b"".join(c.to_bytes() for c in self.children or [])
        return struct.pack(">I4s", 8 + len(body), self.type) + body

    def child(self, kind: bytes) -> _Box:
        for c in self.children or []:
            if c.type == kind:
                return c
        raise CencError(f"no {kind.decode()} in {self.type.decode()}")


def _parse(data: bytes, *, descend: bool = True) -> list[_Box]:
    boxes: list[_Box] = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 8:
            raise CencError("truncated box header")
        size, kind = struct.unpack_from(">I4s", data, pos)
        if size < 8 or pos + size > len(data):
            raise CencError(f"box {kind!r} has a bad size {size}")
        body = data[pos + 8 : pos + size]
        if descend and kind in _CONTAINERS:
            boxes.append(_Box(kind, children=_parse(body)))
        elif descend and kind == b"stsd":
            boxes.append(_Box(kind, payload=body[:8], children=_parse(body[8:], descend=True)))
        elif descend and kind in _AUDIO_ENTRIES | {b"enca"}:
            header = body[:_AUDIO_ENTRY_HEADER]
            boxes.append(
                _Box(kind, payload=header, children=_parse(body[_AUDIO_ENTRY_HEADER:], descend=False))
            )
        else:
            boxes.append(_Box(kind, payload=body))
        pos += size
    return boxes


def _full(kind: bytes, version: int, flags: int, body: bytes) -> _Box:
    return _Box(kind, payload=struct.pack(">I", (version << 24) | flags) + body)


def pssh(kid: bytes, system_id: uuid.UUID = COMMON_SYSTEM_ID) -> bytes:
    """A version-1 `pssh` box naming `kid` (the W3C common format: no system data)."""
    return _full(
        b"pssh", 1, 0, system_id.bytes + struct.pack(">I", 1) + kid + struct.pack(">I", 0)
    ).to_bytes()


def encrypt_init(init: bytes, *, kid: bytes) -> bytes:
    """The protected init segment for a clear CMAF init segment (one audio track)."""
    if len(kid) != 16:
        raise CencError("a KID is 16 bytes")
    boxes = _parse(init)
    moov = next((b for b in boxes if b.type == b"moov"), None)
    if moov is None:
        raise CencError("no moov: not an init segment")
    traks = [c for c in moov.children or [] if c.type == b"trak"]
    if len(traks) != 1:
        raise CencError(f"expected one track, found {len(traks)}")
    stsd = traks[0].child(b"mdia").child(b"minf").child(b"stbl").child(b"stsd")
    entries = stsd.children or []
    if len(entries) != 1 or entries[0].type not in _AUDIO_ENTRIES:
        raise CencError("expected one clear audio sample entry")
    entry = entries[0]
    tenc = _full(b"tenc", 0, 0, bytes([0, 0, 1, IV_SIZE]) + kid)
    sinf = _Box(
        b"sinf",
        children=[
            _Box(b"frma", payload=entry.type),
            _full(b"schm", 0, 0, b"cenc" + struct.pack(">I", 0x00010000)),
            _Box(b"schi", children=[tenc]),
        ],
    )
    entry.type = b"enca"
    entry.children = [*(entry.children or []), sinf]
    moov.children = [*(moov.children or []), *_parse(pssh(kid), descend=False)]
    return b"".join(b.to_bytes() for b in boxes)


@dataclass
class _Fragment:
    sizes: list[int] = field(default_factory=list)
    data_offset: int = 0


def _trun_samples(trun: _Box, tfhd: _Box) -> _Fragment:
    flags = int.from_bytes(trun.payload[1:4], "big")
    count = struct.unpack_from(">I", trun.payload, 4)[0]
    pos = 8
    frag = _Fragment()
    if flags & 0x1:
        frag.data_offset = struct.unpack_from(">i", trun.payload, pos)[0]
        pos += 4
    else:
        raise CencError("trun without a data offset")
    if flags & 0x4:
        pos += 4
    default_size = _tfhd_default_size(tfhd)
    for _ in range(count):
        if flags & 0x100:
            pos += 4
        if flags & 0x200:
            frag.sizes.append(struct.unpack_from(">I", trun.payload, pos)[0])
            pos += 4
        elif default_size is not None:
            frag.sizes.append(default_size)
        else:
            raise CencError("no sample sizes")
        if flags & 0x400:
            pos += 4
        if flags & 0x800:
            pos += 4
    return frag


def _tfhd_default_size(tfhd: _Box) -> int | None:
    flags = int.from_bytes(tfhd.payload[1:4], "big")
    if not flags & 0x020000:
        raise CencError("tfhd is not default-base-is-moof (CMAF requires it)")
    pos = 8  # version/flags, track_ID
    for bit, width in ((0x1, 8), (0x2, 4), (0x8, 4)):
        if flags & bit:
            pos += width
    if flags & 0x10:
        return int(struct.unpack_from(">I", tfhd.payload, pos)[0])
    return None


def encrypt_segment(segment: bytes, *, key: bytes, iv_start: int | None = None) -> bytes:
    """The protected media segment (styp, sidx, one moof + mdat) for a clear CMAF media segment.

    IVs are 8 bytes: a random 64-bit start per segment, then one more per sample, so no (key, counter
    block) pair repeats (a counter runs in the low 8 bytes, within a sample). A segment with no fragment
    at all (a bare `styp`: ffmpeg 5.1's segmenter leaves one after the last FLAC fragment, outside the
    playlist) holds no sample, so there is nothing to encrypt: it is returned as it is."""
    if len(key) != 16:
        raise CencError("a content key is 16 bytes")
    boxes = _parse(segment)
    types = [b.type for b in boxes]
    if types[:1] == [b"styp"] and set(types) <= {b"styp", b"sidx"}:
        return segment
    if types.count(b"moof") != 1 or types.count(b"mdat") != 1 or types.index(b"moof") > types.index(b"mdat"):
        raise CencError(f"expected one moof then one mdat, found {[t.decode() for t in types]}")
    moof = boxes[types.index(b"moof")]
    mdat = boxes[types.index(b"mdat")]
    traf = moof.child(b"traf")
    tfhd, trun = traf.child(b"tfhd"), traf.child(b"trun")
    frag = _trun_samples(trun, tfhd)
    moof_size = len(moof.to_bytes())
    start = frag.data_offset - moof_size - 8  # from the start of mdat's payload
    if start < 0 or start + sum(frag.sizes) > len(mdat.payload):
        raise CencError("samples lie outside the mdat")
    first = int.from_bytes(os.urandom(8), "big") if iv_start is None else iv_start
    ivs = [((first + i) % (1 << 64)).to_bytes(8, "big") for i in range(len(frag.sizes))]
    clear = mdat.payload
    out = bytearray(clear)
    pos = start
    for iv, size in zip(ivs, frag.sizes, strict=True):
        enc = Cipher(algorithms.AES(key), modes.CTR(iv + bytes(8))).encryptor()
        out[pos : pos + size] = enc.update(clear[pos : pos + size]) + enc.finalize()
        pos += size
    mdat.payload = bytes(out)

    count = len(frag.sizes)
    senc = _full(b"senc", 0, 0, struct.pack(">I", count) + b"".join(ivs))
    saiz = _full(b"saiz", 0, 0, struct.pack(">BI", IV_SIZE, count))
    saio = _full(b"saio", 0, 0, struct.pack(">II", 1, 0))
    traf.children = [*(traf.children or []), senc, saiz, saio]
    grown = len(moof.to_bytes()) - moof_size
    # trun's data offset counts from the moof's first byte, which grew.
    flags_word = trun.payload[:8]
    trun.payload = flags_word + struct.pack(">i", frag.data_offset + grown) + trun.payload[12:]
    # saio: where senc's IVs start, from the moof's first byte (default-base-is-moof).
    offset = 8  # moof header
    for c in moof.children or []:
        if c is traf:
            offset += 8
            for t in traf.children or []:
                if t is senc:
                    offset += 8 + 4 + 4  # box header, version/flags, sample_count
                    break
                offset += len(t.to_bytes())
            break
        offset += len(c.to_bytes())
    saio.payload = saio.payload[:8] + struct.pack(">I", offset)
    for b in boxes:
        if b.type == b"sidx":
            _grow_sidx(b, grown)
    return b"".join(b.to_bytes() for b in boxes)


def _grow_sidx(sidx: _Box, grown: int) -> None:
    """The first reference of a segment index spans the moof + mdat that grew by `grown` bytes."""
    version = sidx.payload[0]
    pos = 4 + 4 + 4 + (16 if version else 8) + 2  # v/flags, ref ID, timescale, times, reserved
    (count,) = struct.unpack_from(">H", sidx.payload, pos)
    pos += 2
    if count < 1:
        return
    word = struct.unpack_from(">I", sidx.payload, pos)[0]
    kind, size = word & 0x80000000, word & 0x7FFFFFFF
    sidx.payload = sidx.payload[:pos] + struct.pack(">I", kind | (size + grown)) + sidx.payload[pos + 4 :]


def decrypt_sample_check(segment: bytes, *, key: bytes) -> bytes:
    """The clear mdat payload of a protected segment (for tests and for `repackage --verify`)."""
    boxes = _parse(segment)
    moof = next(b for b in boxes if b.type == b"moof")
    mdat = next(b for b in boxes if b.type == b"mdat")
    traf = moof.child(b"traf")
    frag = _trun_samples(traf.child(b"trun"), traf.child(b"tfhd"))
    senc = traf.child(b"senc").payload
    count = struct.unpack_from(">I", senc, 4)[0]
    ivs = [senc[8 + i * IV_SIZE : 8 + (i + 1) * IV_SIZE] for i in range(count)]
    start = frag.data_offset - len(moof.to_bytes()) - 8
    out = bytearray(mdat.payload)
    pos = start
    for iv, size in zip(ivs, frag.sizes, strict=True):
        dec = Cipher(algorithms.AES(key), modes.CTR(iv + bytes(8))).decryptor()
        out[pos : pos + size] = dec.update(mdat.payload[pos : pos + size]) + dec.finalize()
        pos += size
    return bytes(out)
