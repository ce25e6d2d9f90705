"""Two devices editing one playlist at the same time, each on its own connection and thread, on both
databases: no entry is ever lost, the order stays total, and the totals stay exact."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from cadenza.db.engine import make_session_factory, reading, transaction
from cadenza.library import entries, playlists
from cadenza.library.models import Playlist, PlaylistEntry
from library_world import add_user, seed_tracks


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def _run_together(*work: Callable[[], None]) -> None:
    """Start every callable at the same instant on its own thread; re-raise the first failure."""
    barrier = threading.Barrier(len(work))
    errors: list[BaseException] = []

    def run(fn: Callable[[], None]) -> None:
        try:
            barrier.wait()
            fn()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(fn,)) for fn in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    if errors:
        raise errors[0]


def _stored(sessions: sessionmaker[Session], pid: int) -> tuple[list[int], Playlist]:
    with reading(sessions) as s:
        query = (
            select(PlaylistEntry.id).where(PlaylistEntry.playlist_id == pid).order_by(PlaylistEntry.position)
        )
        ids = list(s.scalars(query))
        playlist = s.get(Playlist, pid)
        total = s.scalar(
            select(func.coalesce(func.sum(PlaylistEntry.duration_ms), 0)).where(
                PlaylistEntry.playlist_id == pid
            )
        )
        assert playlist is not None and (playlist.track_count, playlist.duration_ms) == (len(ids), total)
        return ids, playlist


def test_two_devices_adding_and_moving_at_once_keep_every_entry(sessions: sessionmaker[Session]) -> None:
    owner = add_user(sessions, "fan@example.org")
    tracks = seed_tracks(sessions, 6)
    with transaction(sessions) as s:
        pid = playlists.create_playlist(s, viewer=owner, name="Shared by phone and laptop").id
        seeded = entries.add_tracks(s, playlist_id=pid, viewer=owner, track_ids=tracks * 5).entry_ids
    added: dict[str, list[int]] = {"phone": [], "laptop": []}
    versions: list[int] = []  # the playlist's version after each add: an add always changes it

    def device(name: str, seed: int) -> Callable[[], None]:
        rnd = random.Random(seed)

        def work() -> None:
            for _ in range(40):
                with transaction(sessions) as s:
                    kind = rnd.choice(["end", "front", "index", "move", "move", "before", "after"])
                    size = s.scalar(select(Playlist.track_count).where(Playlist.id == pid)) or 0
                    if kind in {"end", "front", "index"}:
                        index = {"end": None, "front": 0, "index": rnd.randint(0, size)}[kind]
                        batch = [rnd.choice(tracks) for _ in range(rnd.randint(1, 4))]
                        got = entries.add_tracks(
                            s, playlist_id=pid, viewer=owner, track_ids=batch, index=index
                        )
                        added[name].extend(got.entry_ids)
                        versions.append(got.playlist.version)
                    else:
                        mover, anchor = rnd.sample(seeded + added[name], 2)
                        where = {"move": {"index": rnd.randint(0, size - 1)}, "before": {"before": anchor}}
                        entries.move_entry(
                            s,
                            playlist_id=pid,
                            viewer=owner,
                            entry_id=mover,
                            **where.get(kind, {"after": anchor}),
                        )

        return work

    _run_together(device("phone", 1), device("laptop", 2))
    ids, playlist = _stored(sessions, pid)
    assert sorted(ids) == sorted(seeded + added["phone"] + added["laptop"])
    assert len(added["phone"]) > 0 and len(added["laptop"]) > 0
    # Every add saw a version no other change saw: the changes ran one after another, none overwritten.
    assert len(set(versions)) == len(versions) and playlist.version >= 2 + len(versions)


def test_a_second_device_waits_for_the_first_and_then_sees_its_entries(
    sessions: sessionmaker[Session],
) -> None:
    """Device A holds its change open; device B's append waits for it instead of computing "after the
    last entry" from a list that is about to change, then lands after A's entries."""
    owner = add_user(sessions, "fan@example.org")
    tracks = seed_tracks(sessions, 2)
    with transaction(sessions) as s:
        pid = playlists.create_playlist(s, viewer=owner, name="Mix").id
    a_has_added = threading.Event()
    a_committed_at: list[float] = []
    b_done_at: list[float] = []
    got: dict[str, list[int]] = {}

    def device_a() -> None:
        with transaction(sessions) as s:
            got["a"] = entries.add_tracks(
                s, playlist_id=pid, viewer=owner, track_ids=[tracks[0]] * 3
            ).entry_ids
            a_has_added.set()
            time.sleep(0.5)  # B starts meanwhile
        a_committed_at.append(time.monotonic())

    def device_b() -> None:
        a_has_added.wait()
        with transaction(sessions) as s:
            got["b"] = entries.add_tracks(
                s, playlist_id=pid, viewer=owner, track_ids=[tracks[1]] * 2
            ).entry_ids
        b_done_at.append(time.monotonic())

    _run_together(device_a, device_b)
    ids, _ = _stored(sessions, pid)
    assert ids == got["a"] + got["b"]
    assert b_done_at[0] >= a_committed_at[0]


def test_a_device_cannot_change_a_playlist_deleted_by_another_meanwhile(
    sessions: sessionmaker[Session],
) -> None:
    owner = add_user(sessions, "fan@example.org")
    tracks = seed_tracks(sessions, 1)
    with transaction(sessions) as s:
        pid = playlists.create_playlist(s, viewer=owner, name="Short-lived").id
    deleting = threading.Event()
    outcome: list[str] = []

    def remover() -> None:
        with transaction(sessions) as s:
            playlists.delete_playlist(s, playlist_id=pid, viewer=owner)
            deleting.set()
            time.sleep(0.3)

    def adder() -> None:
        deleting.wait()
        try:
            with transaction(sessions) as s:
                entries.add_tracks(s, playlist_id=pid, viewer=owner, track_ids=tracks)
        except Exception as exc:
            outcome.append(type(exc).__name__)

    _run_together(remover, adder)
    assert outcome == ["NotFound"]
    with reading(sessions) as s:
        assert s.scalar(select(func.count()).select_from(PlaylistEntry)) == 0
