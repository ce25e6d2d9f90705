"""Test pictures made on the spot with Pillow, and audio files with pictures in their tags (mutagen)."""

from __future__ import annotations

import base64
import io
import struct
import zlib
from pathlib import Path

from mutagen.apev2 import BINARY, APEValue
from mutagen.flac import FLAC, Picture
from mutagen.id3 import APIC
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4, MP4Cover
from mutagen.oggopus import OggOpus
from mutagen.wavpack import WavPack
from PIL import Image

RED = (220, 20, 20)
BLUE = (20, 20, 220)


def encode(im: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **options)
    return buf.getvalue()


def picture(width: int, height: int, fmt: str = "PNG", *, mode: str = "RGB", **options: object) -> bytes:
    """A left-red, right-blue picture: which way it ends up shows any rotation."""
    im = Image.new("RGB", (width, height), RED)
    im.paste(BLUE, (width // 2, 0, width, height))
    return encode(im if mode == "RGB" else im.convert(mode), fmt, **options)


def png_header(width: int, height: int) -> bytes:
    """A PNG that only claims its size: a valid header, then a few bytes of (not decodable) pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"\x78\x9c\x00") + chunk(b"IEND", b"")


def _flac_picture(data: bytes, kind: int) -> Picture:
    pic = Picture()
    pic.type = kind
    pic.mime = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
    pic.desc = "cover"
    pic.data = data
    return pic


def embed_cover(path: Path, data: bytes, *, kind: int = 3) -> Path:
    """Add a picture of type `kind` to the tags of the audio file at `path`, as taggers do per format."""
    suffix = path.suffix.lower()
    if suffix == ".flac":
        flac = FLAC(path)
        flac.add_picture(_flac_picture(data, kind))
        flac.save()
    elif suffix == ".mp3":
        mp3 = MP3(path)
        if mp3.tags is None:
            mp3.add_tags()
        assert mp3.tags is not None
        mime = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
        mp3.tags.add(APIC(encoding=3, mime=mime, type=kind, desc=f"picture {kind}", data=data))
        mp3.save()
    elif suffix == ".m4a":
        mp4 = MP4(path)
        assert mp4.tags is not None or mp4.add_tags() is None
        fmt = MP4Cover.FORMAT_PNG if data.startswith(b"\x89PNG") else MP4Cover.FORMAT_JPEG
        mp4.tags["covr"] = [MP4Cover(data, imageformat=fmt)]  # type: ignore[index]
        mp4.save()
    elif suffix in (".opus", ".ogg"):
        opus = OggOpus(path)
        block = base64.b64encode(_flac_picture(data, kind).write()).decode("ascii")
        opus.tags["metadata_block_picture"] = [block]  # type: ignore[index]
        opus.save()
    elif suffix == ".wv":
        wv = WavPack(path)
        if wv.tags is None:
            wv.add_tags()
        name = "Cover Art (Front)" if kind == 3 else "Cover Art (Other)"
        wv.tags[name] = APEValue(b"cover.img\x00" + data, BINARY)  # type: ignore[index]
        wv.save()
    else:
        raise ValueError(f"no picture tags for {suffix}")
    return path
