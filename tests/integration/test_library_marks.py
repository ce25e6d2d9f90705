"""Favourites, ratings, recently played and the play queue through the library service, on both
databases."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from cadenza.catalog.models import Release, Track, TrackStatus
from cadenza.catalog.visibility import Viewer
from cadenza.db.base import utcnow
from cadenza.db.engine import make_session_factory, reading, transaction
from cadenza.errors import InvalidInput, NotFound
from cadenza.library import favourites, history, queue, ratings
from cadenza.library.marks import Kind
from cadenza.library.models import TrackMark
from cadenza.royalties.models import PlaybackSession
from library_world import add_track, add_user

NOW = utcnow()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def catalog(sessions: sessionmaker[Session]) -> dict[str, int]:
    """Tracks by three artists over two releases, one of them without a stream right."""
    with transaction(sessions) as s:
        made = {
            "bolero": add_track(s, title="Boléro", artist="Ravel", release="Orchestral"),
            "aria": add_track(s, title="aria", artist="Bach", release="Goldberg"),
            "canon": add_track(
                s, title="Canon", artist="Pachelbel", release="Orchestral", stream_right=False
            ),
            "wip": add_track(
                s, title="Unfinished", artist="Schubert", release=None, status=TrackStatus.processing
            ),
        }
        ids = {k: t.id for k, t in made.items()}
        ids["goldberg"] = s.scalar(select(Release.id).where(Release.title == "Goldberg")) or 0
        ids["orchestral"] = s.scalar(select(Release.id).where(Release.title == "Orchestral")) or 0
        return ids


def _star(sessions: sessionmaker[Session], viewer: Viewer, kind: Kind, item: int) -> None:
    with transaction(sessions) as s:
        favourites.star(s, viewer=viewer, kind=kind, item_id=item)


def _list(
    sessions: sessionmaker[Session], viewer: Viewer, kind: Kind, **kw: object
) -> favourites.FavouritePage:
    with reading(sessions) as s:
        return favourites.list_favourites(s, viewer=viewer, kind=kind, at=NOW, **kw)  # type: ignore[arg-type]


def test_starred_tracks_list_by_added_title_and_artist(
    sessions: sessionmaker[Session], catalog: dict[str, int]
) -> None:
    fan = add_user(sessions, "fan@example.org")
    for name in ("aria", "bolero", "canon"):
        _star(sessions, fan, Kind.track, catalog[name])
    added = _list(sessions, fan, Kind.track)
    assert [i.title for i in added.items] == ["Canon", "Boléro", "aria"]  # newest first
    assert [i.available for i in added.items] == [False, True, True]  # Canon has no stream right
    assert added.items[1].artists == ("Ravel",) and added.next_after is None
    assert [i.title for i in _list(sessions, fan, Kind.track, sort="title").items] == [
        "aria",
        "Boléro",
        "Canon",
    ]
    by_artist = _list(sessions, fan, Kind.track, sort="artist").items
    assert [i.artists[0] for i in by_artist] == ["Bach", "Pachelbel", "Ravel"]


@pytest.mark.parametrize("sort", ["added", "title", "artist"])
def test_favourites_page_by_cursor_without_repeats_or_gaps(
    sessions: sessionmaker[Session], sort: str
) -> None:
    fan = add_user(sessions, "fan@example.org")
    with transaction(sessions) as s:
        ids = [add_track(s, title=f"Song {i % 4}", artist=f"Artist {i % 3}").id for i in range(23)]
    for t in ids:
        _star(sessions, fan, Kind.track, t)
    seen: list[int] = []
    after = None
    while True:
        page = _list(sessions, fan, Kind.track, sort=sort, after=after, limit=5)
        seen += [i.id for i in page.items]
        if page.next_after is None:
            break
        after = page.next_after
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    whole = [i.id for i in _list(sessions, fan, Kind.track, sort=sort, limit=100).items]
    assert seen == whole
    with pytest.raises(InvalidInput, match="not a cursor"):
        _list(sessions, fan, Kind.release, sort=sort, after=after or "x")
    with pytest.raises(InvalidInput, match="not a cursor"):
        _list(sessions, fan, Kind.track, sort=sort, after="garbage!")


def test_releases_and_artists_are_starred_too(
    sessions: sessionmaker[Session], catalog: dict[str, int]
) -> None:
    fan = add_user(sessions, "fan@example.org")
    _star(sessions, fan, Kind.release, catalog["orchestral"])
    _star(sessions, fan, Kind.release, catalog["goldberg"])
    releases = _list(sessions, fan, Kind.release, sort="title").items
    assert [(r.title, r.artists) for r in releases] == [("Goldberg", ("Bach",)), ("Orchestral", ("Ravel",))]
    with reading(sessions) as s:
        ravel = s.scalar(select(Track).where(Track.id == catalog["bolero"]))
        assert ravel is not None
        artist_id = ravel.artists[0].id
    _star(sessions, fan, Kind.artist, artist_id)
    [artist] = _list(sessions, fan, Kind.artist).items
    assert (artist.title, artist.available) == ("Ravel", None)


def test_starring_twice_keeps_the_first_time_and_unstar_keeps_a_rating(
    sessions: sessionmaker[Session], catalog: dict[str, int]
) -> None:
    fan = add_user(sessions, "fan@example.org")
    with transaction(sessions) as s:
        first = favourites.star(s, viewer=fan, kind=Kind.track, item_id=catalog["aria"])
    with transaction(sessions) as s:
        assert favourites.star(s, viewer=fan, kind=Kind.track, item_id=catalog["aria"]) == first
        ratings.rate(s, viewer=fan, kind=Kind.track, item_id=catalog["aria"], rating=4)
    assert _list(sessions, fan, Kind.track).items[0].rating == 4
    with transaction(sessions) as s:
        favourites.unstar(s, viewer=fan, kind=Kind.track, item_id=catalog["aria"])
        favourites.unstar(s, viewer=fan, kind=Kind.track, item_id=catalog["aria"])  # idempotent
    assert _list(sessions, fan, Kind.track).items == []
    with reading(sessions) as s:
        assert ratings.ratings_of(s, viewer=fan, kind=Kind.track, item_ids=[catalog["aria"]]) == {
            catalog["aria"]: 4
        }
    with transaction(sessions) as s:
        ratings.rate(s, viewer=fan, kind=Kind.track, item_id=catalog["aria"], rating=0)
    with reading(sessions) as s:
        assert s.scalar(select(func.count()).select_from(TrackMark)) == 0  # no empty rows left behind


def test_only_what_the_catalog_shows_can_be_starred_or_rated(
    sessions: sessionmaker[Session], catalog: dict[str, int]
) -> None:
    fan = add_user(sessions, "fan@example.org")
    for kind, item in [
        (Kind.track, catalog["wip"]),
        (Kind.track, 999999),
        (Kind.release, 999999),
        (Kind.artist, 999999),
    ]:
        with pytest.raises(NotFound, match=f"{kind.value} {item} not found"), transaction(sessions) as s:
            favourites.star(s, viewer=fan, kind=kind, item_id=item)
        with pytest.raises(NotFound), transaction(sessions) as s:
            ratings.rate(s, viewer=fan, kind=kind, item_id=item, rating=3)
    for bad in (-1, 6):
        with pytest.raises(InvalidInput, match="1 to 5"), transaction(sessions) as s:
            ratings.rate(s, viewer=fan, kind=Kind.track, item_id=catalog["aria"], rating=bad)


def test_marks_are_per_listener(sessions: sessionmaker[Session], catalog: dict[str, int]) -> None:
    a = add_user(sessions, "a@example.org")
    b = add_user(sessions, "b@example.org")
    _star(sessions, a, Kind.track, catalog["aria"])
    with transaction(sessions) as s:
        ratings.rate(s, viewer=a, kind=Kind.track, item_id=catalog["aria"], rating=5)
        favourites.unstar(s, viewer=b, kind=Kind.track, item_id=catalog["aria"])
        ratings.rate(s, viewer=b, kind=Kind.track, item_id=catalog["aria"], rating=0)
    assert [i.rating for i in _list(sessions, a, Kind.track).items] == [5]
    assert _list(sessions, b, Kind.track).items == []


def _played(sessions: sessionmaker[Session], viewer: Viewer, plays: list[tuple[int, int]]) -> None:
    """Playback sessions: (track id, minutes ago)."""
    with transaction(sessions) as s:
        for track_id, ago in plays:
            started = NOW - timedelta(minutes=ago)
            s.add(
                PlaybackSession(
                    id=str(uuid.uuid4()),
                    user_id=viewer.user_id,
                    track_id=track_id,
                    started_at=started,
                    day=started.date(),
                )
            )


def test_recently_played_lists_distinct_tracks_newest_first(
    sessions: sessionmaker[Session], catalog: dict[str, int]
) -> None:
    fan = add_user(sessions, "fan@example.org")
    other = add_user(sessions, "other@example.org")
    a, b, c = catalog["aria"], catalog["bolero"], catalog["canon"]
    _played(sessions, fan, [(a, 50), (b, 40), (a, 30), (c, 20), (b, 10)])
    _played(sessions, other, [(a, 1)])
    with reading(sessions) as s:
        recent = history.recently_played(s, viewer=fan, at=NOW)
        two = history.recently_played(s, viewer=fan, at=NOW, limit=2)
    assert [(r.track.id, r.available) for r in recent] == [(b, True), (c, False), (a, True)]
    assert recent[0].last_played_at == NOW - timedelta(minutes=10)
    assert [r.track.id for r in two] == [b, c]
    with transaction(sessions) as s:
        s.execute(delete(Track).where(Track.id == c))
    with reading(sessions) as s:
        assert [r.track.id for r in history.recently_played(s, viewer=fan, at=NOW)] == [b, a]
        with pytest.raises(InvalidInput, match="limit"):
            history.recently_played(s, viewer=fan, at=NOW, limit=0)


def test_a_queue_saved_on_one_device_is_restored_on_another(
    sessions: sessionmaker[Session], catalog: dict[str, int]
) -> None:
    fan = add_user(sessions, "fan@example.org")
    a, b, c = catalog["aria"], catalog["bolero"], catalog["canon"]
    with reading(sessions) as s:
        assert queue.get_queue(s, viewer=fan, at=NOW) is None
    with transaction(sessions) as s:
        v1, _ = queue.save_queue(
            s, viewer=fan, track_ids=[a, b, a], current_index=1, position_ms=61_000, device="Phone"
        )
    with transaction(sessions) as s:
        v2, when = queue.save_queue(
            s, viewer=fan, track_ids=[a, c, b], current_index=2, position_ms=5_000, device=" Laptop "
        )
    with reading(sessions) as s:
        q = queue.get_queue(s, viewer=fan, at=NOW)
    assert q is not None and (v1, v2) == (1, 2)
    assert [e.track.id for e in q.entries] == [a, c, b] and [e.available for e in q.entries] == [
        True,
        False,
        True,
    ]
    assert (q.current_index, q.position_ms, q.device, q.version, q.updated_at) == (
        2,
        5_000,
        "Laptop",
        2,
        when,
    )


def test_a_restored_queue_skips_tracks_deleted_since(
    sessions: sessionmaker[Session], catalog: dict[str, int]
) -> None:
    fan = add_user(sessions, "fan@example.org")
    a, b, c = catalog["aria"], catalog["bolero"], catalog["canon"]
    with transaction(sessions) as s:
        queue.save_queue(
            s, viewer=fan, track_ids=[a, c, b], current_index=1, position_ms=9_000, device="Phone"
        )
        s.execute(delete(Track).where(Track.id == c))
    with reading(sessions) as s:
        q = queue.get_queue(s, viewer=fan, at=NOW)
    assert q is not None and [e.track.id for e in q.entries] == [a, b]
    assert (q.current_index, q.position_ms) == (1, 0)


def test_queue_input_is_bounded(sessions: sessionmaker[Session], catalog: dict[str, int]) -> None:
    fan = add_user(sessions, "fan@example.org")
    a = catalog["aria"]
    cases = [
        ({"track_ids": [a] * 1001}, "at most 1,000 tracks"),
        ({"current_index": 3}, "current_index must point into the queue"),
        ({"position_ms": -1}, "position_ms"),
        ({"device": ""}, "device"),
        ({"device": "x" * 101}, "device"),
        ({"track_ids": [a, catalog["wip"]]}, f"track {catalog['wip']} not found"),
    ]
    for override, reason in cases:
        args = {"track_ids": [a, a], "current_index": 0, "position_ms": 0, "device": "Phone", **override}
        with pytest.raises((InvalidInput, NotFound), match=reason), transaction(sessions) as s:
            queue.save_queue(s, viewer=fan, **args)  # type: ignore[arg-type]
