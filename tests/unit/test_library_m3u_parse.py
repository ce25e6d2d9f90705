"""Reading M3U files as players and tagging tools write them (no database, no files)."""

from __future__ import annotations

from cadenza.library.m3u import M3UEntry, guess_from_path, parse


def test_extended_m3u_with_name_durations_artists_and_isrcs() -> None:
    text = (
        "\ufeff#EXTM3U\r\n"
        "#PLAYLIST:Sunday morning\r\n"
        "#EXTINF:215,Nina Simone - Feeling Good\r\n"
        "#EXT-X-ISRC:USPR3-65-00012\r\n"
        "Music/Nina Simone/I Put a Spell on You/05 Feeling Good.flac\r\n"
        "\r\n"
        '#EXTINF:-1 tvg-id="x" group-title="radio",Just A Title\r\n'
        "#EXTART:Someone\r\n"
        "# comment from a tagger: ISRC=GBAYE0601498\r\n"
        "https://example.org/stream.mp3?x=1\r\n"
        "#EXT-X-UNKNOWN:whatever\r\n"
        "C:\\Music\\Bare.mp3\r\n"
    )
    got = parse(text)
    assert got.name == "Sunday morning"
    assert got.entries == [
        M3UEntry(
            line=5,
            location="Music/Nina Simone/I Put a Spell on You/05 Feeling Good.flac",
            title="Feeling Good",
            artist="Nina Simone",
            duration_sec=215.0,
            isrc="USPR36500012",
        ),
        M3UEntry(
            line=10,
            location="https://example.org/stream.mp3?x=1",
            title="Just A Title",
            artist="Someone",
            isrc="GBAYE0601498",
        ),
        M3UEntry(line=12, location="C:\\Music\\Bare.mp3"),
    ]


def test_plain_m3u_is_a_list_of_locations_and_tags_apply_to_the_next_one_only() -> None:
    got = parse("a.mp3\n#EXTINF:10,X - Y\nb.mp3\nc.mp3\n#ISRC:not-a-code\nd.mp3\n")
    assert got.name is None
    assert [(e.location, e.title, e.artist) for e in got.entries] == [
        ("a.mp3", None, None),
        ("b.mp3", "Y", "X"),
        ("c.mp3", None, None),
        ("d.mp3", None, None),
    ]
    assert got.entries[3].isrc is None  # a malformed code is ignored, not trusted


def test_titles_and_artists_from_paths() -> None:
    assert guess_from_path("Music/Nina Simone/Album/05 Feeling Good.flac") == ("Nina Simone", "Feeling Good")
    assert guess_from_path("Nina Simone - Feeling Good.mp3") == ("Nina Simone", "Feeling Good")
    assert guess_from_path("C:\\Music\\Daft Punk\\Discovery\\01 - One More Time.mp3") == (
        "Daft Punk",
        "One More Time",
    )
    assert guess_from_path("https://host/a/b/Track_Name.ogg?sig=1") == ("a", "Track Name")
    assert guess_from_path("song.mp3") == (None, "song")
