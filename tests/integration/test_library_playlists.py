"""Playlists through the library service, on both databases: order, moves, paging, availability, limits,
who may do what."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, delete, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from cadenza.catalog.models import Track, TrackStatus
from cadenza.catalog.visibility import Viewer, playable_ids
from cadenza.db.base import utcnow
from cadenza.db.engine import make_session_factory, reading, transaction
from cadenza.errors import Forbidden, InvalidInput, NotFound
from cadenza.library import entries, playlists, positions
from cadenza.library.limits import MAX_BATCH
from cadenza.library.models import Playlist, PlaylistEntry
from cadenza.rights import policy
from cadenza.rights.models import RightType, TrackRight
from library_world import add_track, add_user, seed_tracks


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def _new(sessions: sessionmaker[Session], viewer: Viewer, name: str = "Mix", **kw: object) -> int:
    with transaction(sessions) as s:
        return playlists.create_playlist(s, viewer=viewer, name=name, **kw).id  # type: ignore[arg-type]


def _add(
    sessions: sessionmaker[Session], pid: int, viewer: Viewer, tracks: list[int], **kw: object
) -> list[int]:
    with transaction(sessions) as s:
        return entries.add_tracks(s, playlist_id=pid, viewer=viewer, track_ids=tracks, **kw).entry_ids  # type: ignore[arg-type]


def _move(sessions: sessionmaker[Session], pid: int, viewer: Viewer, entry: int, **kw: int) -> None:
    with transaction(sessions) as s:
        entries.move_entry(s, playlist_id=pid, viewer=viewer, entry_id=entry, **kw)


def _order(sessions: sessionmaker[Session], pid: int) -> list[int]:
    """Entry ids in playlist order, straight from the table."""
    with reading(sessions) as s:
        query = (
            select(PlaylistEntry.id).where(PlaylistEntry.playlist_id == pid).order_by(PlaylistEntry.position)
        )
        return list(s.scalars(query))


def _check_invariants(sessions: sessionmaker[Session], pid: int) -> None:
    """Totals equal the entries' sums; positions are unique and inside the bounds."""
    with reading(sessions) as s:
        p = s.get(Playlist, pid)
        assert p is not None
        count, total, low, high = s.execute(
            select(
                func.count(),
                func.coalesce(func.sum(PlaylistEntry.duration_ms), 0),
                func.min(PlaylistEntry.position),
                func.max(PlaylistEntry.position),
            ).where(PlaylistEntry.playlist_id == pid)
        ).one()
        assert (p.track_count, p.duration_ms) == (count, total)
        if count:
            assert low >= -positions.LIMIT and high <= positions.LIMIT


_WRITE = re.compile(r"\b(?:INSERT INTO|UPDATE|DELETE FROM) \w+")


@contextmanager
def _writes(engine: Engine) -> Iterator[list[str]]:
    """The statements that write (INSERT, UPDATE, DELETE, alone or in a WITH) sent while the block runs."""
    seen: list[str] = []

    def record(_conn, _cursor, statement: str, *_args: object) -> None:  # type: ignore[no-untyped-def]
        if _WRITE.search(statement):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_entries_keep_the_order_they_were_placed_in_and_a_track_can_appear_twice(
    sessions: sessionmaker[Session],
) -> None:
    fan = add_user(sessions, "fan@example.org")
    t = seed_tracks(sessions, 5)
    pid = _new(sessions, fan)
    first = _add(sessions, pid, fan, [t[0], t[1], t[2]])
    middle = _add(sessions, pid, fan, [t[3], t[0]], index=1)
    front = _add(sessions, pid, fan, [t[4]], index=0)
    with reading(sessions) as s:
        got = entries.page(s, playlist_id=pid, viewer=fan, at=utcnow())
    assert [e.entry_id for e in got.entries] == [front[0], first[0], *middle, first[1], first[2]]
    assert [e.track_id for e in got.entries] == [t[4], t[0], t[3], t[0], t[1], t[2]]
    assert got.playlist.track_count == 6
    assert got.playlist.duration_ms == 1000 * (104 + 100 + 103 + 100 + 101 + 102)
    assert got.entries[0].track is not None and got.entries[0].track.artists == ("Ana",)
    assert all(e.available for e in got.entries)
    _check_invariants(sessions, pid)


def test_a_move_writes_the_moved_entry_and_the_playlist_row_only(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    fan = add_user(sessions, "fan@example.org")
    t = seed_tracks(sessions, 3)
    pid = _new(sessions, fan)
    ids = _add(sessions, pid, fan, t * 300)  # 900 entries
    with _writes(engine) as seen:
        _move(sessions, pid, fan, ids[10], index=600)
        _move(sessions, pid, fan, ids[700], before=ids[3])
        _move(sessions, pid, fan, ids[5], after=ids[899])
    writes = sorted(w for statement in seen for w in _WRITE.findall(statement))  # a WITH may hold two
    assert writes == ["UPDATE playlist_entries"] * 3 + ["UPDATE playlists"] * 3, seen
    order = _order(sessions, pid)
    assert order.index(ids[10]) == 600
    assert order.index(ids[700]) == order.index(ids[3]) - 1
    assert order[-1] == ids[5]


def test_a_move_to_where_the_entry_already_is_changes_nothing(sessions: sessionmaker[Session]) -> None:
    fan = add_user(sessions, "fan@example.org")
    pid = _new(sessions, fan)
    ids = _add(sessions, pid, fan, seed_tracks(sessions, 3))
    with reading(sessions) as s:
        version = playlists.get_playlist(s, playlist_id=pid, viewer=fan).version
    _move(sessions, pid, fan, ids[1], index=1)
    _move(sessions, pid, fan, ids[1], before=ids[2])
    _move(sessions, pid, fan, ids[1], after=ids[0])
    with reading(sessions) as s:
        assert playlists.get_playlist(s, playlist_id=pid, viewer=fan).version == version
    assert _order(sessions, pid) == ids


def test_spent_gaps_are_respaced_locally_and_the_order_survives(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    """Moving entries again and again into one spot halves its gap until two neighbours are adjacent
    integers; then the entries around the spot are respaced, not the whole playlist."""
    fan = add_user(sessions, "fan@example.org")
    pid = _new(sessions, fan)
    ids = _add(sessions, pid, fan, seed_tracks(sessions, 4) * 250)  # 1,000 entries
    model = list(ids)
    with _writes(engine) as seen:
        for i in range(200):  # always just after entry 500: the gap there halves at every move
            mover = model[-1 - i]
            _move(sessions, pid, fan, mover, after=ids[500])
            model.remove(mover)
            model.insert(model.index(ids[500]) + 1, mover)
    assert _order(sessions, pid) == model
    respaced = [w for w in seen if "row_number()" in w]
    assert respaced, "the gap was never spent: the test does not exercise a respace"
    # 200 moves: one row each, plus a few windows of 64-ish rows, far from 200 full rewrites of 1,000 rows.
    assert len(respaced) <= 200 // 16 + 1
    _check_invariants(sessions, pid)


def test_random_edits_match_a_list(sessions: sessionmaker[Session]) -> None:
    """Adds (at the end, at an index, at the front, in batches), moves (by index, before, after), removes
    and same-spot runs, checked against a Python list after every step."""
    rnd = random.Random(20261129)
    fan = add_user(sessions, "fan@example.org")
    t = seed_tracks(sessions, 8)
    pid = _new(sessions, fan)
    model: list[int] = []
    for step in range(160):
        op = rnd.choice(
            ["add", "add_at", "front", "move_index", "move_before", "move_after", "remove", "run"]
        )
        if (op.startswith("move") or op in {"remove", "run"}) and len(model) < 3:
            op = "add"
        if op in {"add", "add_at", "front"}:
            batch = [rnd.choice(t) for _ in range(rnd.randint(1, 40))]
            index = {"add": None, "front": 0, "add_at": rnd.randint(0, len(model))}[op]
            new = _add(sessions, pid, fan, batch, index=index)
            at = len(model) if index is None else index
            model[at:at] = new
        elif op == "remove":
            gone = rnd.choice(model)
            with transaction(sessions) as s:
                entries.remove_entries(s, playlist_id=pid, viewer=fan, entry_ids=[gone])
            model.remove(gone)
        elif op == "run":  # many moves into one spot, to spend a gap
            anchor = rnd.choice(model)
            for mover in rnd.sample([e for e in model if e != anchor], min(25, len(model) - 1)):
                _move(sessions, pid, fan, mover, before=anchor)
                model.remove(mover)
                model.insert(model.index(anchor), mover)
        else:
            mover = rnd.choice(model)
            if op == "move_index":
                index = rnd.randint(0, len(model) - 1)
                _move(sessions, pid, fan, mover, index=index)
                model.remove(mover)
                model.insert(index, mover)
            else:
                anchor = rnd.choice([e for e in model if e != mover])
                _move(sessions, pid, fan, mover, **{op.split("_")[1]: anchor})
                model.remove(mover)
                model.insert(model.index(anchor) + (op == "move_after"), mover)
        assert _order(sessions, pid) == model, f"step {step}: {op}"
    _check_invariants(sessions, pid)


def test_pages_follow_the_last_entry_seen(sessions: sessionmaker[Session]) -> None:
    fan = add_user(sessions, "fan@example.org")
    pid = _new(sessions, fan)
    ids = _add(sessions, pid, fan, seed_tracks(sessions, 5) * 50)
    seen: list[int] = []
    after = None
    with reading(sessions) as s:
        while True:
            got = entries.page(s, playlist_id=pid, viewer=fan, at=utcnow(), after=after, limit=100)
            seen += [e.entry_id for e in got.entries]
            assert got.playlist.track_count == 250
            if got.next_after is None:
                break
            after = got.next_after
    assert seen == ids
    with transaction(sessions) as s:
        entries.remove_entries(s, playlist_id=pid, viewer=fan, entry_ids=[ids[99]])
    with reading(sessions) as s, pytest.raises(NotFound, match=f"entry {ids[99]} is not in playlist"):
        entries.page(s, playlist_id=pid, viewer=fan, at=utcnow(), after=ids[99])
    with reading(sessions) as s, pytest.raises(InvalidInput, match="limit"):
        entries.page(s, playlist_id=pid, viewer=fan, at=utcnow(), limit=0)


def test_tracks_taken_down_stay_in_the_playlist_shown_unavailable(sessions: sessionmaker[Session]) -> None:
    fan = add_user(sessions, "fan@example.org")  # listens from DE
    past = utcnow() - timedelta(days=1)
    with transaction(sessions) as s:
        ok = add_track(s, title="ok").id
        expired = add_track(s, title="expired", expires_at=utcnow() + timedelta(hours=1)).id
        french = add_track(s, title="french", territory="FR").id
        none = add_track(s, title="no rights", stream_right=False).id
        doomed = add_track(s, title="doomed").id
    pid = _new(sessions, fan)
    _add(sessions, pid, fan, [ok, expired, french, none, doomed])
    with transaction(sessions) as s:  # rights run out, a track leaves the catalog
        s.execute(delete(Track).where(Track.id == doomed))
    with reading(sessions) as s:
        got = entries.page(s, playlist_id=pid, viewer=fan, at=utcnow() + timedelta(hours=2))
        in_france = entries.page(s, playlist_id=pid, viewer=Viewer(fan.user_id, territory="FR"), at=past)
    assert [(e.track_id, e.available) for e in got.entries] == [
        (ok, True),
        (expired, False),
        (french, False),
        (none, False),
        (None, False),
    ]
    assert [e.available for e in in_france.entries] == [True, True, True, False, False]
    assert got.playlist.track_count == 5 and got.entries[4].track is None


def test_only_listable_tracks_can_be_added(sessions: sessionmaker[Session]) -> None:
    fan = add_user(sessions, "fan@example.org")
    admin = add_user(sessions, "boss@example.org", admin=True)
    with transaction(sessions) as s:
        ready = add_track(s, title="ready").id
        processing = add_track(s, title="wip", status=TrackStatus.processing).id
        failed = add_track(s, title="broken", status=TrackStatus.failed).id
    pid = _new(sessions, fan)
    apid = _new(sessions, admin)
    with pytest.raises(NotFound, match=f"track {processing} not found"):
        _add(sessions, pid, fan, [ready, processing])
    with pytest.raises(NotFound, match="track 999999 not found"):
        _add(sessions, pid, fan, [999999])
    with pytest.raises(InvalidInput, match=f"track {processing} is still processing"):
        _add(sessions, apid, admin, [processing])
    with pytest.raises(InvalidInput, match=f"track {failed} is failed"):
        _add(sessions, apid, admin, [failed])
    assert _order(sessions, pid) == [] and _order(sessions, apid) == []


def test_bounds_on_names_descriptions_batches_and_size(sessions: sessionmaker[Session]) -> None:
    fan = add_user(sessions, "fan@example.org")
    t = seed_tracks(sessions, 2)
    with pytest.raises(InvalidInput, match="1 to 200 characters"):
        _new(sessions, fan, name="   ")
    with pytest.raises(InvalidInput, match="1 to 200 characters"):
        _new(sessions, fan, name="x" * 201)
    with pytest.raises(InvalidInput, match="control characters"):
        _new(sessions, fan, name="two\nlines")
    with pytest.raises(InvalidInput, match="at most 2000 characters"):
        _new(sessions, fan, description="d" * 2001)
    pid = _new(sessions, fan, name="x" * 200, description="line one\nline two")
    with pytest.raises(InvalidInput, match=f"between 1 and {MAX_BATCH}"):
        _add(sessions, pid, fan, [t[0]] * (MAX_BATCH + 1))
    _add(sessions, pid, fan, [t[0]] * 8, max_entries=10)
    with pytest.raises(InvalidInput, match="at most 10 entries: this one has 8, and 3 more do not fit"):
        _add(sessions, pid, fan, [t[1]] * 3, max_entries=10)
    with pytest.raises(InvalidInput, match="index must be between 0 and 8"):
        _add(sessions, pid, fan, [t[1]], index=9)
    ids = _order(sessions, pid)
    with pytest.raises(InvalidInput, match="exactly one of"):
        _move(sessions, pid, fan, ids[0], index=1, before=ids[2])
    with pytest.raises(InvalidInput, match="next to itself"):
        _move(sessions, pid, fan, ids[0], before=ids[0])
    with pytest.raises(InvalidInput, match="index must be between 0 and 7"):
        _move(sessions, pid, fan, ids[0], index=8)


def test_who_may_read_change_and_delete(sessions: sessionmaker[Session]) -> None:
    owner = add_user(sessions, "owner@example.org")
    other = add_user(sessions, "other@example.org")
    admin = add_user(sessions, "boss@example.org", admin=True)
    t = seed_tracks(sessions, 1)
    private = _new(sessions, owner, "Secret")
    public = _new(sessions, owner, "Shared", public=True)
    ids = _add(sessions, public, owner, t * 2)
    with reading(sessions) as s:
        with pytest.raises(NotFound, match=f"playlist {private} not found"):
            playlists.get_playlist(s, playlist_id=private, viewer=other)
        assert playlists.get_playlist(s, playlist_id=private, viewer=admin).name == "Secret"
        assert playlists.get_playlist(s, playlist_id=public, viewer=other).name == "Shared"
        assert [p.id for p in playlists.list_playlists(s, viewer=other, owner_id=owner.user_id)] == [public]
        assert len(playlists.list_playlists(s, viewer=admin, owner_id=owner.user_id)) == 2
        with pytest.raises(Forbidden, match="sign in"):
            playlists.get_playlist(s, playlist_id=public, viewer=Viewer(user_id=None))
    for who, pid, error in [
        (other, private, NotFound),
        (other, public, Forbidden),
        (admin, public, Forbidden),
    ]:
        with pytest.raises(error):
            _add(sessions, pid, who, t)
        with pytest.raises(error), transaction(sessions) as s:
            playlists.update_playlist(s, playlist_id=pid, viewer=who, name="Mine now")
        with pytest.raises(error), transaction(sessions) as s:
            entries.remove_entries(s, playlist_id=pid, viewer=who, entry_ids=ids[:1])
        if who is other:
            with pytest.raises(error), transaction(sessions) as s:
                playlists.delete_playlist(s, playlist_id=pid, viewer=who)
    with pytest.raises(Forbidden):
        _move(sessions, public, other, ids[1], index=0)
    assert _order(sessions, public) == ids
    with transaction(sessions) as s:
        playlists.delete_playlist(s, playlist_id=public, viewer=admin)
    with reading(sessions) as s:
        assert s.scalar(select(func.count()).select_from(PlaylistEntry)) == 0


def test_duplicate_copies_the_order_for_the_caller(sessions: sessionmaker[Session]) -> None:
    owner = add_user(sessions, "owner@example.org")
    other = add_user(sessions, "other@example.org")
    t = seed_tracks(sessions, 3)
    pid = _new(sessions, owner, "Road trip", public=True, description="for the drive")
    _add(sessions, pid, owner, [t[2], t[0], t[1], t[0]])
    with transaction(sessions) as s:
        copy = playlists.duplicate_playlist(s, playlist_id=pid, viewer=other)
        named = playlists.duplicate_playlist(s, playlist_id=pid, viewer=owner, name="Road trip 2")
    assert (copy.owner_id, copy.name, copy.public, copy.description) == (
        other.user_id,
        "Road trip (copy)",
        False,
        "for the drive",
    )
    assert named.name == "Road trip 2"
    with reading(sessions) as s:
        original = [e.track_id for e in entries.page(s, playlist_id=pid, viewer=owner, at=utcnow()).entries]
        copied = entries.page(s, playlist_id=copy.id, viewer=other, at=utcnow())
    assert [e.track_id for e in copied.entries] == original == [t[2], t[0], t[1], t[0]]
    assert copied.playlist.track_count == 4 and copied.playlist.duration_ms == 1000 * (102 + 100 + 101 + 100)
    _move(sessions, copy.id, other, copied.entries[0].entry_id, index=3)
    assert len(_order(sessions, pid)) == 4 and _order(sessions, pid) != _order(sessions, copy.id)
    private = _new(sessions, owner, "Mine")
    with pytest.raises(NotFound), transaction(sessions) as s:
        playlists.duplicate_playlist(s, playlist_id=private, viewer=other)


def test_rename_describe_publish(sessions: sessionmaker[Session]) -> None:
    owner = add_user(sessions, "owner@example.org")
    pid = _new(sessions, owner, "Old")
    with transaction(sessions) as s:
        p = playlists.update_playlist(s, playlist_id=pid, viewer=owner, name="  New  ", public=True)
        assert (p.name, p.public, p.description, p.version) == ("New", True, "", 2)
        p = playlists.update_playlist(s, playlist_id=pid, viewer=owner, description="Tunes")
        assert (p.name, p.description, p.version) == ("New", "Tunes", 3)


def test_availability_in_sql_decides_every_case_as_the_rights_policy_does(
    sessions: sessionmaker[Session],
) -> None:
    """`visibility.playable_condition` (a page's `available`, `playable_ids`) and `rights.policy`
    (what the stream endpoint applies) are two statements of one rule: they must agree case by case."""
    now = utcnow()
    past, later = now - timedelta(hours=1), now + timedelta(hours=1)
    fan = add_user(sessions, "fan@example.org")
    cases: dict[str, tuple[TrackStatus, bool, list[tuple[RightType, str | None, datetime | None]]]] = {
        "worldwide": (TrackStatus.ready, True, [(RightType.stream, None, None)]),
        "germany": (TrackStatus.ready, True, [(RightType.stream, "DE", None)]),
        "france": (TrackStatus.ready, True, [(RightType.stream, "FR", None)]),
        "expired": (TrackStatus.ready, True, [(RightType.stream, None, past)]),
        "germany until later": (TrackStatus.ready, True, [(RightType.stream, "DE", later)]),
        "expired here, live in france": (
            TrackStatus.ready,
            True,
            [(RightType.stream, "DE", past), (RightType.stream, "FR", None)],
        ),
        "download only": (TrackStatus.ready, True, [(RightType.download, None, None)]),
        "no rights": (TrackStatus.ready, True, []),
        "processing": (TrackStatus.processing, False, [(RightType.stream, None, None)]),
        "ready, media not published": (TrackStatus.ready, False, [(RightType.stream, None, None)]),
    }
    ids: dict[str, int] = {}
    with transaction(sessions) as s:
        for name, (status, published, granted) in cases.items():
            track = Track(
                title=name, status=status, duration_sec=100.0, media_prefix=f"t/{name}" if published else None
            )
            s.add(track)
            s.flush()
            ids[name] = track.id
            for right_type, territory, expires_at in granted:
                s.add(
                    TrackRight(
                        track_id=track.id, right_type=right_type, territory=territory, expires_at=expires_at
                    )
                )
    pid = _new(sessions, fan)
    with transaction(sessions) as s:  # unlistable tracks cannot be added: place them straight in the table
        for k, track_id in enumerate(ids.values()):
            s.add(
                PlaylistEntry(
                    playlist_id=pid, track_id=track_id, position=(k + 1) * positions.GAP, duration_ms=0
                )
            )
    viewers = [Viewer(fan.user_id, territory=t) for t in (None, "DE", "de", "FR", "US")]
    viewers.append(Viewer(fan.user_id, is_admin=True, territory="DE"))
    for viewer in viewers:
        expected = {
            ids[name]
            for name, (status, published, granted) in cases.items()
            if status == TrackStatus.ready
            and published
            and policy.can_stream(
                [policy.Right(t.value, territory, expires) for t, territory, expires in granted],
                viewer.territory,
                now,
            )
        }
        with reading(sessions) as s:
            in_sql = playable_ids(s, viewer=viewer, track_ids=ids.values(), at=now)
            shown = entries.page(s, playlist_id=pid, viewer=viewer, at=now)
        assert in_sql == expected, viewer
        assert {e.track_id for e in shown.entries if e.available} == expected, viewer
