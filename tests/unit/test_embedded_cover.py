"""The cover picture found in an upload's tags (ingest/metadata.py), for every tag format we accept."""

from __future__ import annotations

from pathlib import Path

import pytest

from audio import make_audio
from cadenza.config import Limits
from cadenza.ingest.metadata import embedded_cover
from cadenza.ingest.validate import validate
from images import embed_cover, picture

FRONT = picture(40, 40, "PNG")
BACK = picture(30, 30, "JPEG")


@pytest.mark.parametrize("suffix", [".flac", ".mp3", ".m4a", ".opus", ".ogg", ".wv"])
def test_the_embedded_picture_is_found_in_each_tag_format(tmp_path: Path, suffix: str) -> None:
    path = embed_cover(make_audio(tmp_path / f"a{suffix}", duration=1.5), FRONT)
    assert embedded_cover(path) == FRONT


@pytest.mark.parametrize("suffix", [".flac", ".mp3", ".opus"])
def test_the_front_cover_wins_over_pictures_before_it(tmp_path: Path, suffix: str) -> None:
    path = make_audio(tmp_path / f"a{suffix}", duration=1.5)
    if suffix == ".opus":  # one METADATA_BLOCK_PICTURE list: write it whole
        embed_cover(path, FRONT, kind=3)
        assert embedded_cover(path) == FRONT
        return
    embed_cover(path, BACK, kind=4)  # back cover, first in the file
    embed_cover(path, picture(20, 20, "PNG"), kind=8)  # an artist photo
    embed_cover(path, FRONT, kind=3)
    assert embedded_cover(path) == FRONT


def test_without_a_front_cover_a_picture_of_type_other_is_taken(tmp_path: Path) -> None:
    path = make_audio(tmp_path / "a.flac", duration=1.5)
    embed_cover(path, BACK, kind=4)
    embed_cover(path, FRONT, kind=0)
    assert embedded_cover(path) == FRONT
    only_back = embed_cover(make_audio(tmp_path / "b.flac", duration=1.5), BACK, kind=4)
    assert embedded_cover(only_back) == BACK


def test_no_picture_or_damaged_tags_give_none(tmp_path: Path) -> None:
    assert embedded_cover(make_audio(tmp_path / "plain.flac", duration=1.5)) is None
    assert embedded_cover(make_audio(tmp_path / "plain.wav", duration=1.5)) is None
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"ID3\x04\x00\x00\xff\xff\xff\xff garbage")
    assert embedded_cover(junk) is None
    text = tmp_path / "notes.txt"
    text.write_text("not audio")
    assert embedded_cover(text) is None


@pytest.mark.parametrize("suffix", [".mp3", ".flac", ".m4a"])
def test_a_damaged_cover_does_not_make_the_audio_invalid(tmp_path: Path, suffix: str) -> None:
    # ffmpeg decodes attached pictures while opening a file; their errors are not the audio's
    broken = picture(300, 300, "PNG")[:-40]
    path = embed_cover(make_audio(tmp_path / f"a{suffix}", duration=2), broken)
    info = validate(path, Limits())
    assert abs(info.duration_sec - 2) < 0.1
    assert embedded_cover(path) == broken
