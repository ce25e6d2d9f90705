"""The facts each release stores of its listed tracks (count, length, plays, greatest genre: migration
0015's triggers) stay equal to the visibility rule's own aggregate (`catalog.visibility.listable_track`)
after every kind of change a track can go through, whatever statement makes it: tracks added ready or
still processing, published, taken down, moved between releases or out of any, retitled in genre and
length, played (the rollups' bulk UPDATE), deleted, and a release deleted under its tracks. Both
databases; and the listings that read the stored facts agree with the ones that aggregate them."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, and_, inspect, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from cadenza.catalog import browse, release_rows, visibility
from cadenza.catalog.models import Release, Track, TrackStatus
from cadenza.catalog.visibility import Viewer
from cadenza.db import migrate
from cadenza.db.engine import make_session_factory, transaction
from library_world import add_track

LISTENER, ADMIN = Viewer(user_id=1), Viewer(user_id=2, is_admin=True)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def _stored(s: Session) -> dict[int, tuple[int, float, int, str | None]]:
    rows = s.execute(select(Release.id, *browse.LISTED_STATS)).all()
    return {i: (int(n), round(float(d), 3), int(p), g) for i, n, d, p, g in rows}


def _by_the_rule(s: Session) -> dict[int, tuple[int, float, int, str | None]]:
    """The same facts aggregated from the tracks the rule lists (what a listing computed before 0015)."""
    agg = browse.release_stats(visibility.listable_track())
    rows = s.execute(
        select(Release.id, agg.c.n, agg.c.d, agg.c.p, agg.c.g).outerjoin(agg, agg.c.release_id == Release.id)
    )
    return {i: (int(n or 0), round(float(d or 0.0), 3), int(p or 0), g) for i, n, d, p, g in rows}


def _agree(sessions: sessionmaker[Session]) -> dict[int, tuple[int, float, int, str | None]]:
    with sessions() as s:
        stored, rule = _stored(s), _by_the_rule(s)
        assert stored == rule
        listed = set(s.scalars(select(Release.id).where(visibility.release_condition(LISTENER))))
        assert listed == set(s.scalars(select(Release.id).where(visibility.listed_release_condition())))
        return stored


def _release(s: Session, title: str) -> int:
    return s.scalars(select(Release.id).where(Release.title == title)).one()


def test_every_change_to_a_track_keeps_its_releases_facts(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s:
        one = add_track(s, title="one", release="A", duration=100.0)
        two = add_track(s, title="two", release="A", duration=50.0, status=TrackStatus.processing)
        three = add_track(s, title="three", release="B", duration=30.0)
        s.flush()
        one.genre, two.genre, three.genre = "Jazz", "Rock", "Ambient"
        ids = {"one": one.id, "two": two.id, "three": three.id}
    with sessions() as s:
        a, b = _release(s, "A"), _release(s, "B")
    facts = _agree(sessions)
    assert facts[a] == (1, 100.0, 0, "Jazz") and facts[b] == (1, 30.0, 0, "Ambient")

    with transaction(sessions) as s:  # published: joins the count
        s.get(Track, ids["two"]).status = TrackStatus.ready  # type: ignore[union-attr]
    assert _agree(sessions)[a] == (2, 150.0, 0, "Rock")

    with transaction(sessions) as s:  # played, as the rollups add plays: one statement, many rows
        s.execute(update(Track).values(play_count=Track.play_count + 7))
        s.execute(update(Track).where(Track.id == ids["three"]).values(play_count=Track.play_count + 2))
    facts = _agree(sessions)
    assert facts[a][2] == 14 and facts[b][2] == 9

    with transaction(sessions) as s:  # moved to another release: leaves one count, joins the other
        s.get(Track, ids["one"]).release_id = b  # type: ignore[union-attr]
    facts = _agree(sessions)
    assert facts[a] == (1, 50.0, 7, "Rock") and facts[b] == (2, 130.0, 16, "Jazz")

    with transaction(sessions) as s:  # length, genre and plays changed in one statement
        s.execute(
            update(Track)
            .where(Track.id == ids["one"])
            .values(duration_sec=90.0, genre="Zydeco", play_count=Track.play_count + 1)
        )
    assert _agree(sessions)[b] == (2, 120.0, 17, "Zydeco")

    with transaction(sessions) as s:  # taken down: out of the listing, and a release left empty
        s.get(Track, ids["two"]).status = TrackStatus.taken_down  # type: ignore[union-attr]
    facts = _agree(sessions)
    assert facts[a] == (0, 0.0, 0, None)
    with sessions() as s:
        assert a not in set(s.scalars(select(Release.id).where(visibility.release_condition(LISTENER))))

    with transaction(sessions) as s:  # plays of a track not listed are not a listing's
        s.execute(update(Track).where(Track.id == ids["two"]).values(play_count=Track.play_count + 100))
    assert _agree(sessions)[a] == (0, 0.0, 0, None)

    with transaction(sessions) as s:  # out of any release, then deleted rows
        s.get(Track, ids["three"]).release_id = None  # type: ignore[union-attr]
    assert _agree(sessions)[b] == (1, 90.0, 8, "Zydeco")
    with transaction(sessions) as s:
        s.execute(text("DELETE FROM tracks WHERE id = :i"), {"i": ids["one"]})
    assert _agree(sessions)[b] == (0, 0.0, 0, None)

    with transaction(sessions) as s:  # a release deleted under a ready track: the track is in none
        t = add_track(s, title="four", release="C", duration=10.0)
        s.flush()
        c = t.release_id
    assert _agree(sessions)[c] == (1, 10.0, 0, None)
    with transaction(sessions) as s:
        s.execute(update(Track).where(Track.release_id == c).values(release_id=None))
        s.execute(text("DELETE FROM releases WHERE id = :i"), {"i": c})
    assert c not in _agree(sessions)


def test_listings_read_the_stored_facts_as_the_aggregate_would_give_them(
    sessions: sessionmaker[Session],
) -> None:
    """A listener's album page (stored facts) and an administrator's (aggregated), over the same
    releases, where the two see the same tracks: the same facts."""
    with transaction(sessions) as s:
        for n in range(12):
            add_track(s, title=f"t{n}", release=f"R{n % 4}", duration=60.0 + n)
        s.flush()
        s.execute(update(Track).values(play_count=Track.play_count + Track.id % 5, genre="Folk"))
    with sessions() as s:
        listener = release_rows.page(s, viewer=LISTENER, size=10)
        admin = release_rows.page(s, viewer=ADMIN, size=10)
        assert listener == admin and len(listener) == 4
        ids = [f.id for f in listener]
        assert browse.releases(s, viewer=LISTENER, release_ids=ids) == listener
        assert browse.releases(s, viewer=ADMIN, release_ids=ids) == listener
        by_plays = browse.release_page(s, viewer=LISTENER, order="frequent", size=10, offset=0)
        assert by_plays == [f.id for f in sorted(listener, key=lambda f: (-f.play_count, f.id))]
        assert set(browse.release_page(s, viewer=LISTENER, order="random", size=10, offset=0)) == set(ids)
        folk = browse.release_page(s, viewer=LISTENER, order="newest", size=10, offset=0, genre="Folk")
        assert set(folk) == set(ids)
        assert browse.release_page(s, viewer=LISTENER, order="newest", size=10, offset=0, genre="Jazz") == []
        # a release whose only track of the genre is no longer listed is not in that genre's list
        one = s.scalars(select(Track).where(and_(Track.release_id == ids[0]))).first()
        assert one is not None
    with transaction(sessions) as s:
        s.execute(update(Track).where(Track.release_id == ids[0]).values(genre="Rock"))
        s.execute(update(Track).where(Track.id == one.id).values(genre="Jazz", status=TrackStatus.taken_down))
    with sessions() as s:
        assert browse.release_page(s, viewer=LISTENER, order="newest", size=10, offset=0, genre="Jazz") == []
        assert browse.release_page(s, viewer=ADMIN, order="newest", size=10, offset=0, genre="Jazz") == [
            ids[0]
        ]


def test_the_migration_counts_the_catalog_it_finds_and_goes_back(old_engine: Engine) -> None:
    """0015 on a catalog written before it: every release's facts counted from its tracks as they are
    (ready or not, played or not); and its downgrade leaves 0014's schema, data kept."""
    migrate.upgrade(old_engine, "0014")
    now = "2026-11-30 12:00:00"
    with old_engine.begin() as c:
        c.execute(text("INSERT INTO artists (id, name, created_at) VALUES (1, 'Ana', :t)"), {"t": now})
        for rid in (1, 2, 3):
            c.execute(
                text("INSERT INTO releases (id, title, artist_id, created_at) VALUES (:i, :n, 1, :t)"),
                {"i": rid, "n": f"R{rid}", "t": now},
            )
        for tid, rid, status, secs, genre, plays in [
            (1, 1, "ready", 100.0, "Jazz", 5), (2, 1, "ready", 50.5, "Rock", 2),
            (3, 1, "failed", 9.0, "Zz", 9), (4, 2, "taken_down", 30.0, "Folk", 1),
            (5, None, "ready", 10.0, None, 0),
        ]:  # fmt: skip
            c.execute(
                text(
                    "INSERT INTO tracks (id, title, duration_sec, status, release_id, genre, play_count,"
                    " created_at, updated_at) VALUES (:i, :n, :d, :s, :r, :g, :p, :t, :t)"
                ),
                {
                    "i": tid,
                    "n": f"t{tid}",
                    "d": secs,
                    "s": status,
                    "r": rid,
                    "g": genre,
                    "p": plays,
                    "t": now,
                },
            )
    migrate.upgrade(old_engine)
    with make_session_factory(old_engine)() as s:
        assert _stored(s) == _by_the_rule(s)
        assert _stored(s)[1] == (2, 150.5, 7, "Rock") and _stored(s)[2] == (0, 0.0, 0, None)
    migrate.downgrade(old_engine, "0014")
    assert "listed_tracks" not in {col["name"] for col in inspect(old_engine).get_columns("releases")}
    with old_engine.begin() as c:
        assert c.execute(text("SELECT count(*) FROM tracks")).scalar() == 5
        c.execute(text("UPDATE tracks SET status = 'ready' WHERE id = 4"))  # no trigger left behind
    migrate.upgrade(old_engine)
    with make_session_factory(old_engine)() as s:
        assert _stored(s)[2] == (1, 30.0, 1, "Folk")
