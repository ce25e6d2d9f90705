"""Lyrics read from an upload's tags (`metadata.embedded_lyrics`), for each tag kind, and never an error."""

from __future__ import annotations

from pathlib import Path

import mutagen
from mutagen.id3 import ID3, SYLT, USLT
from mutagen.mp4 import MP4

from audio import make_audio
from cadenza.catalog.lrc import Line
from cadenza.ingest.metadata import embedded_lyrics


def test_id3_sylt_wins_over_uslt(tmp_path: Path) -> None:
    path = make_audio(tmp_path / "a.mp3", duration=2)
    tags = ID3()
    tags.add(USLT(encoding=3, lang="fra", text="plain words"))
    tags.add(SYLT(encoding=3, lang="fra", format=2, type=1, text=[("b", 900), ("a", 100)]))
    tags.save(path)
    lyrics = embedded_lyrics(path)
    assert lyrics is not None and lyrics.language == "fra"
    assert lyrics.lines == (Line(100, "a"), Line(900, "b"))


def test_id3_uslt_holding_lrc_is_synced_and_plain_text_is_not(tmp_path: Path) -> None:
    path = make_audio(tmp_path / "a.mp3", duration=2)
    tags = ID3()
    tags.add(USLT(encoding=3, lang="XXX", text="[00:01.50]from an LRC"))
    tags.save(path)
    assert embedded_lyrics(path).lines == (Line(1500, "from an LRC"),)  # type: ignore[union-attr]
    tags.delall("USLT")
    tags.add(USLT(encoding=3, lang="eng", text="line one\r\nline\x07 two"))
    tags.save(path)
    lyrics = embedded_lyrics(path)
    assert lyrics is not None and not lyrics.synced and lyrics.language == "eng"
    assert [line.text for line in lyrics.lines] == ["line one", "line two"]  # the bell is scrubbed


def test_vorbis_unsyncedlyrics_in_opus_and_mp4_lyr(tmp_path: Path) -> None:
    opus = make_audio(tmp_path / "a.opus", duration=2)
    f = mutagen.File(opus)
    f["UNSYNCEDLYRICS"] = "la la"
    f.save()
    assert embedded_lyrics(opus).lines == (Line(None, "la la"),)  # type: ignore[union-attr]
    m4a = make_audio(tmp_path / "a.m4a", duration=2)
    mp4 = MP4(m4a)
    mp4["\xa9lyr"] = ["[00:00.20]mp4 words"]
    mp4.save()
    assert embedded_lyrics(m4a).lines == (Line(200, "mp4 words"),)  # type: ignore[union-attr]


def test_no_tags_or_no_file_is_none(tmp_path: Path) -> None:
    assert embedded_lyrics(make_audio(tmp_path / "a.flac", duration=2)) is None
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"ID3\x04\x00\x00\x7f\x7f\x7f\x7fgarbage")
    assert embedded_lyrics(junk) is None
    assert embedded_lyrics(tmp_path / "missing.flac") is None
