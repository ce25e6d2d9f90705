"""Tags read from uploads (mutagen), and form fields overriding them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from audio import make_audio
from cadenza.catalog.service import TrackMetadata
from cadenza.ingest.metadata import read_tags

TAGS = [
    "-metadata", "title=Ünïcode Sóng", "-metadata", "artist=Ana; Bo", "-metadata", "album=First Light",
    "-metadata", "genre=Jazz", "-metadata", "track=3/12", "-metadata", "date=2024-05-17",
    "-metadata", "ISRC=USRC17607839",
]  # fmt: skip


@pytest.mark.parametrize("suffix", [".flac", ".mp3", ".m4a", ".ogg"])
def test_tags_are_read(tmp_path: Path, suffix: str) -> None:
    path = make_audio(tmp_path / f"tagged{suffix}", duration=1.5, extra=TAGS)
    meta = read_tags(path, fallback_title="tagged")
    assert meta.title == "Ünïcode Sóng"
    assert meta.artists == ["Ana", "Bo"]
    assert meta.release_title == "First Light" and meta.genre == "Jazz"
    assert meta.track_number == 3
    assert meta.release_date == date(2024, 5, 17)
    if suffix in (".flac", ".mp3", ".ogg"):
        assert meta.isrc == "USRC17607839"


def test_no_tags_and_garbage_fall_back_to_the_file_name(tmp_path: Path) -> None:
    plain = make_audio(tmp_path / "plain.wav", duration=1.5)
    assert read_tags(plain, fallback_title="plain").title == "plain"
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"ID3\x04\x00\x00\xff\xff\xff\xff garbage")
    assert read_tags(junk, fallback_title="junk") == TrackMetadata(title="junk")


def test_form_fields_override_tags() -> None:
    tags = TrackMetadata(title="From Tags", artists=["Tag Artist"], genre="Pop", track_number=1)
    form = TrackMetadata(title="From Form", track_number=2)
    merged = tags.merged(form)
    assert (merged.title, merged.artists, merged.genre, merged.track_number) == (
        "From Form",
        ["Tag Artist"],
        "Pop",
        2,
    )
