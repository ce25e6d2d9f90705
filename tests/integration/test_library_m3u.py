"""M3U import and export on both databases, matching through the real search index and real tags."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cadenza.catalog.models import TrackStatus
from cadenza.db.base import utcnow
from cadenza.db.engine import make_session_factory, reading, transaction
from cadenza.errors import InvalidInput
from cadenza.library import entries, m3u
from cadenza.search.sync import keep_in_step
from library_world import add_track, add_user


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    factory = make_session_factory(engine)
    keep_in_step(factory)  # tracks made below reach the search index at commit, as in the app
    return factory


@pytest.fixture
def catalog(sessions: sessionmaker[Session]) -> dict[str, int]:
    with transaction(sessions) as s:
        made = {
            "feeling": add_track(s, title="Feeling Good", artist="Nina Simone", isrc="USPR36500012"),
            "feeling_cover": add_track(s, title="Feeling Good", artist="Muse"),
            "one_more": add_track(s, title="One More Time", artist="Daft Punk"),
            "tagged": add_track(s, title="Hidden Gem", artist="Obscure Band", isrc="GBAYE0601498"),
            "wip": add_track(
                s, title="Not Yet", artist="Nina Simone", isrc="USABC2000001", status=TrackStatus.processing
            ),
        }
        return {k: t.id for k, t in made.items()}


def _import(sessions: sessionmaker[Session], owner: int, text: str, **kw: object) -> m3u.ImportReport:
    with transaction(sessions) as s:
        return m3u.import_m3u(s, owner_id=owner, text=text, **kw)  # type: ignore[arg-type]


def _tracks(sessions: sessionmaker[Session], playlist_id: int, owner: int) -> list[int | None]:
    from cadenza.catalog.visibility import Viewer

    with reading(sessions) as s:
        page = entries.page(s, playlist_id=playlist_id, viewer=Viewer(owner), at=utcnow(), limit=500)
        return [e.track_id for e in page.entries]


def test_entries_match_by_isrc_then_title_and_artist_then_path(
    sessions: sessionmaker[Session], catalog: dict[str, int]
) -> None:
    fan = add_user(sessions, "fan@example.org")
    assert fan.user_id is not None
    text = "\n".join(
        [
            "#EXTM3U",
            "#PLAYLIST:Mixed bag",
            "#EXTINF:180,Somebody Else - A Wrong Title",  # the ISRC wins over a wrong title
            "#EXT-X-ISRC:US-PR3-65-00012",
            "x.mp3",
            "#EXTINF:200,MUSE - feeling good",  # folded: case does not matter
            "muse.mp3",
            "Music/Daft Punk/Discovery/01 - One More Time.mp3",  # no tags at all: from the path
            "#EXTINF:100,Nina Simone - Not Yet",  # still processing: not listable, not matched
            "#ISRC:USABC2000001",
            "wip.mp3",
            "#EXTINF:100,Feeling",  # a partial title is not a match
            "partial.mp3",
            "#EXTINF:100,Daft Punk - Feeling Good",  # right title, wrong artist
            "wrong-artist.mp3",
        ]
    )
    report = _import(sessions, fan.user_id, text)
    assert (report.name, report.entries, report.matched) == ("Mixed bag", 6, 3)
    assert report.matched_by == {"isrc": 1, "search": 1, "path": 1}
    assert _tracks(sessions, report.playlist_id, fan.user_id) == [
        catalog["feeling"],
        catalog["feeling_cover"],
        catalog["one_more"],
    ]
    assert [(u.line, u.reason) for u in report.unmatched] == [
        (11, "no catalog track titled 'Not Yet' by Nina Simone (nor ISRC USABC2000001)"),
        (13, "no catalog track titled 'Feeling'"),
        (15, "no catalog track titled 'Feeling Good' by Daft Punk"),
    ]


def test_tags_are_read_only_from_files_under_the_music_folder(
    sessions: sessionmaker[Session], catalog: dict[str, int], tmp_path: Path
) -> None:
    from audio import make_audio

    fan = add_user(sessions, "fan@example.org")
    assert fan.user_id is not None
    music, elsewhere = tmp_path / "music", tmp_path / "elsewhere"
    music.mkdir()
    elsewhere.mkdir()
    tags = [
        "-metadata",
        "title=Hidden Gem",
        "-metadata",
        "artist=Obscure Band",
        "-metadata",
        "ISRC=GBAYE0601498",
    ]
    make_audio(music / "track01.flac", duration=1, extra=tags)
    make_audio(elsewhere / "track01.flac", duration=1, extra=tags)
    text = (
        f"track01.flac\n{music / 'track01.flac'}\n../elsewhere/track01.flac\n{elsewhere / 'track01.flac'}\n"
    )
    report = _import(sessions, fan.user_id, text, matcher=m3u.CatalogMatcher(music_root=music))
    assert report.matched_by == {"file tags": 2}
    assert _tracks(sessions, report.playlist_id, fan.user_id) == [catalog["tagged"]] * 2
    assert [u.line for u in report.unmatched] == [3, 4]


def test_an_exported_playlist_imports_back_in_the_same_order(
    sessions: sessionmaker[Session], catalog: dict[str, int]
) -> None:
    from cadenza.catalog.visibility import Viewer
    from cadenza.library import playlists

    fan = add_user(sessions, "fan@example.org")
    other = add_user(sessions, "other@example.org")
    assert fan.user_id is not None and other.user_id is not None
    order = [catalog["one_more"], catalog["feeling"], catalog["feeling_cover"], catalog["one_more"]]
    with transaction(sessions) as s:
        pid = playlists.create_playlist(s, viewer=fan, name="Export me", public=True).id
        entries.add_tracks(s, playlist_id=pid, viewer=fan, track_ids=order)
    with reading(sessions) as s:
        text = m3u.export_m3u(s, playlist_id=pid, viewer=Viewer(other.user_id))
    assert text.splitlines()[:5] == [
        "#EXTM3U",
        "#PLAYLIST:Export me",
        "#EXTINF:200,Daft Punk - One More Time",
        f"cadenza:track:{catalog['one_more']}",
        "#EXTINF:200,Nina Simone - Feeling Good",
    ]
    assert "#EXT-X-ISRC:USPR36500012" in text
    report = _import(sessions, other.user_id, text)
    assert report.unmatched == [] and report.name == "Export me"
    assert _tracks(sessions, report.playlist_id, other.user_id) == order


def test_an_import_is_bounded(sessions: sessionmaker[Session]) -> None:
    fan = add_user(sessions, "fan@example.org")
    assert fan.user_id is not None
    with pytest.raises(InvalidInput, match="at most 10,000 entries"):
        _import(sessions, fan.user_id, "a.mp3\n" * 10_001)
    with pytest.raises(InvalidInput, match="larger than"):
        _import(sessions, fan.user_id, "x" * (m3u.MAX_TEXT + 1))
