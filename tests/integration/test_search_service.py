"""Search service on both backends: filters and facets, pages, highlights, and the index in step."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import Engine, delete, text, update
from sqlalchemy.orm import Session, sessionmaker

from cadenza.catalog.models import Artist, Release, Track, TrackArtist, TrackStatus
from cadenza.db.engine import make_session_factory, transaction
from cadenza.errors import InvalidInput
from cadenza.search import service
from cadenza.search.sync import keep_in_step


@pytest.fixture
def sessions(engine: Engine) -> Iterator[sessionmaker[Session]]:
    yield make_session_factory(engine)


def add_track(
    s: Session,
    title: str,
    artists: list[str],
    *,
    genre: str | None = None,
    plays: int = 0,
    released: date | None = None,
    status: TrackStatus = TrackStatus.ready,
    index: bool = True,
) -> Track:
    credited = []
    for name in artists:
        a = s.query(Artist).filter_by(name=name).one_or_none() or Artist(name=name)
        s.add(a)
        s.flush()
        credited.append(a)
    release = None
    if released:
        release = Release(title=f"{title} (single)", artist_id=credited[0].id, release_date=released)
        s.add(release)
        s.flush()
    t = Track(
        title=title,
        genre=genre,
        play_count=plays,
        status=status,
        release_id=release.id if release else None,
        source_checksum="0",
    )
    s.add(t)
    s.flush()
    s.add_all(TrackArtist(track_id=t.id, artist_id=a.id, position=i) for i, a in enumerate(credited))
    s.flush()
    if index:
        service.index_track(s, track_id=t.id)
    return t


def titles(s: Session, q: str, **kw: object) -> list[str]:
    return [h.title for h in service.search(s, q=q, **kw).hits]  # type: ignore[arg-type]


def test_filters_and_facets(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s:
        add_track(s, "Love Song", ["Ana"], genre="Hip-Hop", plays=5, released=date(2001, 1, 1))
        add_track(s, "Love Will Tear", ["Bo"], genre="Rock", plays=9, released=date(1980, 1, 1))
        add_track(s, "Love Again", ["Bo"], genre="rock", plays=1, released=date(2020, 1, 1))
        add_track(s, "Other", ["Bo"], genre="Rock", plays=100, released=date(1990, 1, 1))
    with sessions() as s:
        page = service.search(s, q="love")
        assert [h.title for h in page.hits] == ["Love Will Tear", "Love Song", "Love Again"]
        assert page.total == 3 and page.total_exact
        assert [(f.genre, f.count) for f in page.facets] == [("Rock", 2), ("Hip-Hop", 1)]
        assert titles(s, "love", genre="hip hop") == ["Love Song"]
        filtered = service.search(s, q="love", genre="ROCK")
        assert [h.title for h in filtered.hits] == ["Love Will Tear", "Love Again"] and filtered.total == 2
        assert len(filtered.facets) == 2  # facets ignore the genre filter, so other genres stay visible
        assert titles(s, "love", date_from=date(2000, 1, 1)) == ["Love Song", "Love Again"]
        assert titles(s, "love", date_from=date(2000, 1, 1), date_to=date(2010, 1, 1)) == ["Love Song"]
        bo = s.query(Artist).filter_by(name="Bo").one()
        assert titles(s, "love", artist=bo.id) == ["Love Will Tear", "Love Again"]
        assert titles(s, "bo", type="artist") == ["Bo"]
        assert titles(s, "love", type="release", date_to=date(1990, 1, 1)) == ["Love Will Tear (single)"]


def test_cursor_pages_through_everything_once(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s:
        for i in range(25):
            add_track(s, f"Night Song {i}", ["Cy"], plays=i)
    with sessions() as s:
        seen: list[str] = []
        cursor = None
        for _ in range(3):
            page = service.search(s, q="night", limit=10, cursor=cursor)
            seen += [h.title for h in page.hits]
            cursor = page.next_cursor
        assert cursor is None
        assert seen == [f"Night Song {i}" for i in range(24, -1, -1)]
        first = service.search(s, q="night", limit=10)
        with pytest.raises(InvalidInput):
            service.search(s, q="song", limit=10, cursor=first.next_cursor)
        with pytest.raises(InvalidInput):
            service.search(s, q="night", cursor="not-a-cursor")


def test_ranking_tiers_then_plays(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s:
        add_track(s, "Queen of Hearts", ["Dee"], plays=1000)
        add_track(s, "Killer", ["Queen"], plays=10)
        add_track(s, "Queens", ["Eve"], plays=5000)
        add_track(s, "Kino", ["Fay"], plays=9000)
    with sessions() as s:
        page = service.search(s, q="queen")
        assert [(h.title, h.match) for h in page.hits] == [
            ("Killer", "exact"),
            ("Queen of Hearts", "words"),
            ("Queens", "prefix"),
            ("Kino", "phonetic"),
        ]


def test_exact_matches_rank_titles_then_artists_then_releases_by_plays(
    sessions: sessionmaker[Session],
) -> None:
    """Many documents share a whole-field key: titles first, then artists' names, then release titles,
    each by plays, every document once (a track titled like its release is still one hit), and a change
    of plays reorders them (PostgreSQL reads them from impact-ordered postings kept by a trigger)."""
    with transaction(sessions) as s:
        tracks = [add_track(s, "Echo", ["Ana"], plays=p) for p in (5, 50, 500)]
        add_track(s, "Echo", ["Bo"], plays=70, released=date(2001, 1, 1))  # release "Echo (single)"
        add_track(s, "Waves", ["Echo"], plays=10_000)
        add_track(s, "Echo Park", ["Cy"], plays=90_000)
        for i in range(30):
            add_track(s, "Echo", [f"Filler {i}"], plays=1)
    with sessions() as s:
        page = service.search(s, q="echo", limit=6)
        assert [(h.title, h.play_count, h.match) for h in page.hits] == [
            ("Echo", 500, "exact"),
            ("Echo", 70, "exact"),
            ("Echo", 50, "exact"),
            ("Echo", 5, "exact"),
            ("Echo", 1, "exact"),
            ("Echo", 1, "exact"),
        ]
        page = service.search(s, q="echo", limit=40)
        ids = [h.id for h in page.hits]
        assert len(ids) == len(set(ids))
        assert [h.title for h in page.hits[34:]] == ["Waves", "Echo Park"]  # artist exact, then words
        assert [h.match for h in page.hits[34:]] == ["exact", "words"]
    with transaction(sessions) as s:
        s.execute(update(Track).where(Track.id == tracks[0].id).values(play_count=900))
    with sessions() as s:
        assert [h.play_count for h in service.search(s, q="echo", limit=2).hits] == [900, 500]


def test_all_words_but_one_is_the_last_tier(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s:
        add_track(s, "Sweet Child o' Mine", ["Guns N' Roses"], plays=10)
        add_track(s, "Sweet Home Alabama", ["Lynyrd Skynyrd"], plays=1000)
    with sessions() as s:
        hits = service.search(s, q="sweet child of mine").hits
        assert [(h.title, h.match) for h in hits] == [("Sweet Child o' Mine", "partial")]  # 3 of 4 words
        hits = service.search(s, q="sweet child").hits  # the strict match first, however less played
        assert [(h.title, h.match) for h in hits] == [
            ("Sweet Child o' Mine", "phrase"),
            ("Sweet Home Alabama", "partial"),
        ]
        assert service.search(s, q="guns and roses", type="artist").hits[0].title == "Guns N' Roses"
        # Beyond six words, one word more or less says little: no partial matches.
        assert service.search(s, q="sweet child of mine by guns n roses").hits == []


def test_highlights_mark_matches_and_escape_html(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s:
        add_track(s, "<b>Bohemian</b> & Rhapsody", ["Queen", "AC/DC"])
    with sessions() as s:
        hit = service.search(s, q="bohem acdc").hits[0]
        assert hit.highlights["title"] == "<em>&lt;b&gt;Bohemian&lt;/b&gt;</em> &amp; Rhapsody"
        assert hit.highlights["artists"] == "Queen, <em>AC/DC</em>"


def test_index_follows_the_catalog(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s:
        t = add_track(s, "Paper Planes", ["Em"], status=TrackStatus.processing)
        track_id = t.id
    with sessions() as s:
        assert titles(s, "paper planes") == []
    with transaction(sessions) as s:
        s.execute(update(Track).where(Track.id == track_id).values(status=TrackStatus.ready))
        service.index_track(s, track_id=track_id)
    with sessions() as s:
        assert titles(s, "paper planes") == ["Paper Planes"]
        assert titles(s, "em", type="artist") == ["Em"]
    with transaction(sessions) as s:
        s.execute(update(Track).where(Track.id == track_id).values(title="Paper Boats"))
        service.index_track(s, track_id=track_id)
    with sessions() as s:
        assert titles(s, "paper boats") == ["Paper Boats"] and titles(s, "planes") == []
    with transaction(sessions) as s:  # taken down: the trigger removes it, no Python involved
        s.execute(text("UPDATE tracks SET status = 'failed' WHERE id = :id"), {"id": track_id})
    with sessions() as s:
        assert titles(s, "paper boats") == []
    with transaction(sessions) as s:
        s.execute(update(Track).where(Track.id == track_id).values(status=TrackStatus.ready))
        service.index_track(s, track_id=track_id)
        service.index_track(s, track_id=track_id)  # idempotent
    with sessions() as s:
        assert titles(s, "paper boats") == ["Paper Boats"]
    with transaction(sessions) as s:
        s.execute(delete(Track).where(Track.id == track_id))
    with sessions() as s:
        assert titles(s, "paper boats") == []
    with transaction(sessions) as s:
        service.index_track(s, track_id=track_id)  # a deleted track is simply absent
        service.index_track(s, track_id=track_id)
        service.index_track(s, track_id=track_id)
        service.remove_track(s, track_id=track_id)
    with transaction(sessions) as s:
        service.index_track(s, track_id=999_999)
    with transaction(sessions) as s:  # an artist with no ready track left is not found either
        service.remove_track(s, track_id=track_id)
    with sessions() as s:
        assert titles(s, "em", type="artist") == []


def test_play_counts_reorder_results_through_the_trigger(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s:
        a = add_track(s, "River One", ["Gil"], plays=10)
        b = add_track(s, "River Two", ["Gil"], plays=20)
    with sessions() as s:
        assert titles(s, "river") == ["River Two", "River One"]
        artist_plays = service.search(s, q="gil", type="artist").hits[0].play_count
    with transaction(sessions) as s:
        s.execute(update(Track).where(Track.id == a.id).values(play_count=50))
    with sessions() as s:
        assert titles(s, "river") == ["River One", "River Two"]
        assert service.search(s, q="gil", type="artist").hits[0].play_count == artist_plays + 40
    assert b.id


def test_many_matching_words_rank_by_plays_even_after_plays_change(sessions: sessionmaker[Session]) -> None:
    # More words start with `zeb` than one batch of postings reads (PostgreSQL reads the words whose best
    # document is most played first): the best matches must still come first, also once a play count
    # rises after indexing and lifts a word that was read last.
    with transaction(sessions) as s:
        tracks = [
            add_track(s, f"Zeb{chr(97 + i // 26)}{chr(97 + i % 26)}", ["Ana"], plays=100 + i)
            for i in range(40)
        ]
    with sessions() as s:
        assert [x.text for x in service.suggest(s, q="zeb", limit=3)][:3] == [
            "Zebbn — Ana",
            "Zebbm — Ana",
            "Zebbl — Ana",
        ]
        assert titles(s, "zeb", limit=2) == ["Zebbn", "Zebbm"]
    with transaction(sessions) as s:
        s.execute(update(Track).where(Track.id == tracks[0].id).values(play_count=10_000))
    with sessions() as s:
        assert titles(s, "zeb", limit=2) == ["Zebaa", "Zebbn"]
        assert titles(s, "zebaa")[0] == "Zebaa"  # then its typos
        page = service.search(s, q="zeb", limit=5)
        assert page.total == 40 and page.total_exact


def test_orm_edits_anywhere_are_indexed_on_commit(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    keep_in_step(sessions)
    keep_in_step(sessions)  # once is enough, twice is harmless
    with transaction(sessions) as s:
        t = add_track(s, "Harbour Lights", ["Ivy"], status=TrackStatus.processing, index=False)
        track_id = t.id
    with sessions() as s:
        assert titles(s, "harbour") == []
    with transaction(sessions) as s:
        s.get_one(Track, track_id).status = TrackStatus.ready
    with sessions() as s:
        assert titles(s, "harbour lights") == ["Harbour Lights"]
    with transaction(sessions) as s:
        s.get_one(Track, track_id).title = "Harbour Mist"
    with sessions() as s:
        assert titles(s, "harbour mist") == ["Harbour Mist"] and titles(s, "lights") == []
    with transaction(sessions) as s:
        s.query(Artist).filter_by(name="Ivy").one().name = "Ivy League"
    with sessions() as s:
        assert titles(s, "ivy league harbour") == ["Harbour Mist"]
        assert titles(s, "ivy league", type="artist") == ["Ivy League"]
    with transaction(sessions) as s:
        add_track(s, "Second Song", ["Ivy League"], index=False)
    with sessions() as s:
        assert titles(s, "second song") == ["Second Song"]


def test_reindex_rebuilds_the_same_index(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s:
        add_track(s, "Кукушка", ["Кино"], genre="Rock", plays=3)
        add_track(s, "Blackbird", ["The Beatles"], genre="Rock", plays=7)
        add_track(s, "Draft", ["Nobody"], status=TrackStatus.processing, index=False)
    with sessions() as s:
        before = [service.search(s, q=q, type=k).hits for q, k in [("kino", "artist"), ("beetles", "track")]]
    calls: list[tuple[int, int]] = []
    with transaction(sessions) as s:
        assert (
            service.reindex(s, progress=lambda done, total: calls.append((done, total))) == 4
        )  # 2 tracks, 2 artists
    assert calls[-1] == (2, 2)
    with sessions() as s:
        after = [service.search(s, q=q, type=k).hits for q, k in [("kino", "artist"), ("beetles", "track")]]
        assert after == before and titles(s, "draft") == []
        assert titles(s, "kukushka") == ["Кукушка"]


@pytest.mark.parametrize(
    "kw",
    [
        {"q": ""},
        {"q": "x" * 500},
        {"q": "love", "type": "song"},
        {"q": "love", "limit": 0},
        {"q": "love", "limit": 1000},
        {"q": "love", "date_from": date(2020, 1, 1), "date_to": date(2000, 1, 1)},
    ],
)
def test_bad_requests_are_refused_with_a_reason(sessions: sessionmaker[Session], kw: dict) -> None:
    with sessions() as s, pytest.raises(InvalidInput):
        service.search(s, **kw)


@pytest.mark.parametrize(
    "q", ["🎵", "\u200f\u202e", "\x00love", "' OR 1=1 --", 'NEAR("a" "b")', "a:* & !b", "*"]
)
def test_odd_queries_are_just_queries(sessions: sessionmaker[Session], q: str) -> None:
    with transaction(sessions) as s:
        add_track(s, "Love", ["Ann"])
    with sessions() as s:
        service.search(s, q=q)
        service.suggest(s, q=q)
