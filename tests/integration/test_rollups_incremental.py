"""Incremental refresh: recounting only the sessions with new events gives exactly what a full recount
of their days gives (rollups, discards, play counts), on random event streams with late and duplicate
events, and while events keep arriving during refreshes; on SQLite and PostgreSQL.

Sessions and events go in through the real writers (the stream endpoint's recorder, the events
endpoint's `insert_events`), which leave the marks the refresh works from."""

from __future__ import annotations

import random
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, func, select, text
from test_royalties_rollups import DURATIONS, _actual, _expected

from cadenza.accounts.models import User
from cadenza.catalog.models import Track, TrackStatus
from cadenza.db.engine import make_session_factory
from cadenza.royalties import rollups
from cadenza.royalties.ingest import insert_events
from cadenza.royalties.models import PlaybackDirtySession, PlaybackSessionCount
from cadenza.royalties.recorder import NewSession, SessionRecorder
from cadenza.royalties.rules import QUALITIES, Royalties

RULES = Royalties(daily_cap_per_track=2)
DAY0 = date(2026, 11, 2)
DAYS = 3


@dataclass
class World:
    """What was written, in the shapes the Python reference (`_expected`) reads."""

    engine: Engine
    rnd: random.Random
    users: list[int]
    tracks: list[int]
    sessions: list[dict] = field(default_factory=list)
    events: dict[tuple[str, str], dict] = field(default_factory=dict)
    sent: list[tuple[object, ...]] = field(default_factory=list)


def _world(engine: Engine, seed: int) -> World:
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        users = [
            User(email=f"u{i}@example.org", display_name=f"u{i}", password_hash="x", tier=tier)
            for i, tier in enumerate(["free", "premium"])
        ]
        tracks = [
            Track(title=f"t{i}", status=TrackStatus.ready, duration_sec=d) for i, d in enumerate(DURATIONS)
        ]
        s.add_all([*users, *tracks])
        s.flush()
        return World(engine, random.Random(seed), [u.id for u in users], [t.id for t in tracks])


def _new_sessions(w: World, n: int) -> None:
    """Open n sessions through the recorder (each with its start event and a mark)."""
    recorder = SessionRecorder(make_session_factory(w.engine), interval=3600)
    for _ in range(n):
        day = DAY0 + timedelta(days=w.rnd.randrange(DAYS))
        started = datetime.combine(day, datetime.min.time(), UTC) + timedelta(
            seconds=w.rnd.randrange(86_000), microseconds=w.rnd.randrange(1_000_000)
        )
        user = None if w.rnd.random() < 0.1 else w.rnd.choice(w.users)  # two busy listeners: the cap bites
        tier = None if user is None else ["free", "premium"][w.users.index(user)]
        s = NewSession(
            str(uuid.UUID(int=w.rnd.getrandbits(128), version=4)),
            w.rnd.choice(w.tracks),
            user,
            w.rnd.choice(["DE", "FR", None]),
            "hls",
            started,
            tier,
        )
        recorder.record(s)
        row = {
            "id": s.id,
            "user_id": user,
            "track_id": s.track_id,
            "territory": s.territory,
            "started_at": started,
            "day": day,
            "user_tier": tier,
            "quality": "hls",
        }
        w.sessions.append(row)
        start = str(uuid.uuid5(uuid.NAMESPACE_URL, f"cadenza:start:{s.id}"))
        w.events[(s.id, start)] = {
            "session_id": s.id,
            "quality": "hls",
            "elapsed_ms": 0,
            "played_ms": 0,
        }
    recorder.close()


def _event_rows(w: World, n: int) -> list[tuple[object, ...]]:
    """n event rows for random sessions (old ones too: late events), some of them re-sent (duplicates)."""
    rows: list[tuple[object, ...]] = []
    for _ in range(n):
        if w.sent and w.rnd.random() < 0.15:
            rows.append(w.rnd.choice(w.sent))  # a retry: must change nothing
            continue
        s = w.rnd.choice(w.sessions)
        elapsed = w.rnd.randrange(0, 240_000)
        played = w.rnd.choice([10_000, 10_000, 15_000, 0, w.rnd.randrange(0, 40_000)])
        at = s["started_at"] + timedelta(milliseconds=elapsed)
        quality = w.rnd.choice([*QUALITIES, None])
        row = (
            str(uuid.UUID(int=w.rnd.getrandbits(128), version=4)), s["id"], s["track_id"], None,
            "progress", elapsed, played / 1000, quality, s["territory"], at, at, s["day"], elapsed, played,
            1.0,
        )  # fmt: skip
        rows.append(row)
    return rows


def _store(w: World, rows: list[tuple[object, ...]]) -> None:
    """Store through the events endpoint's writer (one transaction, as the endpoint does)."""
    rows = list({(r[1], r[0]): r for r in rows}.values())  # the endpoint drops repeats within a batch
    with make_session_factory(w.engine)() as s:
        insert_events(s, rows)
        s.commit()
    for r in rows:
        w.events.setdefault(
            (str(r[1]), str(r[0])),
            {"session_id": r[1], "quality": r[7], "elapsed_ms": r[12], "played_ms": r[13]},
        )
        w.sent.append(r)


def _reference(w: World) -> tuple[dict, dict, dict]:
    daily, discards, counts = _expected(w.sessions, list(w.events.values()), RULES, w.tracks)
    return daily, discards, {t: n for t, n in counts.items() if n}


def _full_recount(w: World) -> tuple[dict, dict, dict]:
    rollups.recompute(w.engine, start=DAY0, end=DAY0 + timedelta(days=DAYS), rules=RULES)
    return _actual(w.engine, w.tracks)


def _marks(engine: Engine) -> int:
    with make_session_factory(engine)() as s:
        return int(s.scalar(select(func.count()).select_from(PlaybackDirtySession)) or 0)


def test_incremental_refreshes_equal_a_full_recount_on_random_streams(engine: Engine) -> None:
    for seed in (1, 2, 3):
        with engine.begin() as conn:
            for table in ("playback_events", "playback_session_counts", "playback_daily",
                          "playback_discards", "playback_dirty_sessions", "playback_sessions", "tracks",
                          "users"):  # fmt: skip
                conn.execute(text(f"DELETE FROM {table}"))
        w = _world(engine, seed)
        for step in range(8):
            _new_sessions(w, w.rnd.randrange(3, 12))
            _store(w, _event_rows(w, w.rnd.randrange(5, 60)))
            done = rollups.refresh(engine, rules=RULES)
            assert done.days == () and done.sessions > 0 and _marks(engine) == 0
            # after every refresh, not only the last: the rollups are what a recount would give
            assert _actual(engine, w.tracks) == _reference(w), f"seed {seed}, step {step}"
        incremental = _actual(engine, w.tracks)
        assert incremental[1], "the data should exercise the daily cap"
        assert rollups.refresh(engine, rules=RULES).sessions == 0  # nothing new: nothing to do
        assert _full_recount(w) == incremental


def test_a_late_event_that_makes_an_early_session_a_stream_moves_the_cap_onto_a_later_one(
    engine: Engine,
) -> None:
    """The cap counts a listener's first two streams of a track on a day, in start order: when a late
    heartbeat lifts the day's first session over 30 s, the third session is discarded instead."""
    w = _world(engine, 7)
    w.rnd = random.Random(7)
    user, track = w.users[0], w.tracks[1]
    recorder = SessionRecorder(make_session_factory(engine), interval=3600)
    ids = []
    for hour in (8, 9, 10):
        started = datetime.combine(DAY0, datetime.min.time(), UTC) + timedelta(hours=hour)
        sid = str(uuid.uuid4())
        ids.append(sid)
        recorder.record(NewSession(sid, track, user, "DE", "hls", started, "free"))
        w.sessions.append(
            {"id": sid, "user_id": user, "track_id": track, "territory": "DE", "started_at": started,
             "day": DAY0, "user_tier": "free", "quality": "hls"}
        )  # fmt: skip
    recorder.close()

    def heartbeat(i: int, elapsed: int, played: int) -> tuple[object, ...]:
        at = w.sessions[i]["started_at"] + timedelta(milliseconds=elapsed)
        return (str(uuid.uuid4()), ids[i], track, None, "progress", elapsed, played / 1000, "aac_256", "DE",
                at, at, DAY0, elapsed, played, 1.0)  # fmt: skip

    _store(w, [heartbeat(0, 20_000, 20_000), heartbeat(1, 40_000, 40_000), heartbeat(2, 40_000, 40_000)])
    rollups.refresh(engine, rules=RULES)
    with make_session_factory(engine)() as s:
        verdicts = {c.session_id: (c.counted, c.over_cap) for c in s.scalars(select(PlaybackSessionCount))}
    assert [verdicts[i] for i in ids] == [(0, 0), (1, 0), (1, 0)]
    _store(w, [heartbeat(0, 40_000, 20_000)])  # the first session's late heartbeat: 40 s now
    assert rollups.refresh(engine, rules=RULES).sessions == 1
    with make_session_factory(engine)() as s:
        verdicts = {c.session_id: (c.counted, c.over_cap) for c in s.scalars(select(PlaybackSessionCount))}
    assert [verdicts[i] for i in ids] == [(1, 0), (1, 0), (0, 1)]
    assert _actual(engine, w.tracks) == _reference(w)
    assert _full_recount(w) == _reference(w)


def test_events_written_while_refreshes_run_are_all_counted(engine: Engine) -> None:
    """A writer keeps adding sessions and events (late and duplicate ones too) while another thread
    refreshes over and over; once the writer stops, one more refresh leaves the rollups equal to a full
    recount: no event was lost between a refresh's taking of the marks and its reading of the events."""
    w = _world(engine, 11)
    _new_sessions(w, 10)
    stop = threading.Event()
    errors: list[BaseException] = []
    refreshed = []

    def refresher() -> None:
        try:
            while not stop.is_set():
                refreshed.append(rollups.refresh(engine, rules=RULES).sessions)
        except BaseException as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=refresher)
    thread.start()
    try:
        for _ in range(40):
            _new_sessions(w, w.rnd.randrange(0, 4))
            _store(w, _event_rows(w, w.rnd.randrange(1, 25)))
    finally:
        stop.set()
        thread.join(60)
    assert not errors, errors
    assert sum(1 for n in refreshed if n) > 1, "refreshes should have run while events arrived"
    rollups.refresh(engine, rules=RULES)
    assert _marks(engine) == 0
    assert _actual(engine, w.tracks) == _reference(w)
    assert _full_recount(w) == _reference(w)


def test_two_refreshers_at_once_agree_with_a_full_recount(engine: Engine) -> None:
    """Two server processes each run the background refresher: their refreshes are serialized (an
    advisory lock on PostgreSQL, the one writer on SQLite) and never count a session twice."""
    w = _world(engine, 5)
    _new_sessions(w, 30)
    _store(w, _event_rows(w, 200))
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def one() -> None:
        try:
            barrier.wait(10)
            rollups.refresh(engine, rules=RULES)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert _actual(engine, w.tracks) == _reference(w)
    assert _full_recount(w) == _reference(w)


def test_a_day_marked_whole_is_rebuilt_with_its_session_outcomes(engine: Engine) -> None:
    """After a rules change or the migration, a day is rebuilt whole (`playback_dirty_days`); the session
    outcomes it writes are what later incremental refreshes start from."""
    w = _world(engine, 13)
    _new_sessions(w, 20)
    _store(w, _event_rows(w, 80))
    rollups.recompute(engine, start=DAY0, end=DAY0 + timedelta(days=DAYS), rules=RULES)
    rollups.refresh(engine, rules=RULES)  # the marks left by the writers: recounted again, no change
    assert _actual(engine, w.tracks) == _reference(w)
    with make_session_factory(engine)() as s:
        assert s.scalar(select(func.count()).select_from(PlaybackSessionCount)) == len(w.sessions)
    _store(w, _event_rows(w, 40))
    assert rollups.refresh(engine, rules=RULES).days == ()
    assert _actual(engine, w.tracks) == _reference(w)
