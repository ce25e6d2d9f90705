"""Counting in SQL equals the Python rules, on both databases: credit, quality, daily cap, rollups,
discards and play counts; refreshes are incremental and agree with a full recount."""

from __future__ import annotations

import random
import time
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, insert, select

from cadenza.accounts.models import User
from cadenza.catalog.models import Track, TrackStatus
from cadenza.db.engine import make_session_factory
from cadenza.royalties import counting, rollups
from cadenza.royalties.models import (
    PlaybackDaily,
    PlaybackDirtyDay,
    PlaybackDiscard,
    PlaybackEvent,
    PlaybackSession,
)
from cadenza.royalties.rules import QUALITIES, Royalties

RULES = Royalties(daily_cap_per_track=2)
DAY0 = date(2026, 11, 2)
DURATIONS = [45.0, 200.0, None]


def _seed(engine: Engine, rnd: random.Random) -> tuple[list[dict], list[dict], list[int]]:
    """Users, tracks, and random sessions with random (often over-claiming, unordered) events."""
    sessions = make_session_factory(engine)
    with sessions() as s, s.begin():
        users = [
            User(email=f"u{i}@example.org", display_name=f"u{i}", password_hash="x", tier=tier)
            for i, tier in enumerate(["free", "premium", "hifi"])
        ]
        tracks = [
            Track(title=f"t{i}", status=TrackStatus.ready, duration_sec=d) for i, d in enumerate(DURATIONS)
        ]
        s.add_all([*users, *tracks])
        s.flush()
        user_ids, track_ids = [u.id for u in users], [t.id for t in tracks]
    rows, events = [], []
    for n in range(48):
        start = datetime.combine(DAY0 + timedelta(days=n % 3), datetime.min.time(), UTC) + timedelta(
            minutes=rnd.randrange(1400), microseconds=n
        )
        user = None if n % 11 == 0 else rnd.choice(user_ids[:2])  # two busy listeners: the cap bites
        sid = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
        rows.append(
            {
                "id": sid,
                "user_id": user,
                "track_id": rnd.choice(track_ids),
                "territory": rnd.choice(["DE", "FR", None]),
                "started_at": start,
                "day": start.date(),
                "user_tier": None if user is None else ["free", "premium"][user_ids.index(user)],
                "quality": "hls",
            }
        )

        for _ in range(rnd.randrange(0, 9)):
            elapsed = rnd.randrange(0, 240_000)
            played = rnd.choice([10_000, 10_000, 15_000, 0, rnd.randrange(0, 40_000)])
            events.append(
                {
                    "event_id": str(uuid.uuid4()),
                    "session_id": sid,
                    "track_id": rows[-1]["track_id"],
                    "kind": rnd.choice(["progress", "progress", "pause", "seek", "stop"]),
                    "seconds_played": played / 1000,
                    "quality": rnd.choice([*QUALITIES, None]),
                    "territory": rows[-1]["territory"],
                    "occurred_at": start + timedelta(milliseconds=elapsed),
                    "received_at": start + timedelta(milliseconds=elapsed),
                    "session_day": start.date(),
                    "elapsed_ms": elapsed,
                    "played_ms": played,
                }
            )
    rnd.shuffle(events)  # arrival order means nothing
    with sessions() as s, s.begin():
        s.execute(insert(PlaybackSession), rows)
        s.execute(insert(PlaybackEvent), events)
        s.execute(insert(PlaybackDirtyDay), [{"day": DAY0 + timedelta(days=i)} for i in range(3)])
    return rows, events, track_ids


def _expected(
    rows: list[dict], events: list[dict], rules: Royalties, track_ids: list[int]
) -> tuple[dict, dict, dict]:
    """Rollups, discards and play counts computed with the Python rules."""
    by_session: dict[str, list[dict]] = defaultdict(list)
    for e in events:
        by_session[e["session_id"]].append(e)
    duration = {}
    plays, quality = [], {}
    for r in rows:
        evs = by_session[r["id"]]
        duration[r["id"]] = dict(zip(track_ids, DURATIONS, strict=True))[r["track_id"]]
        played = {q: sum(e["played_ms"] for e in evs if e["quality"] == q) for q in QUALITIES}
        best = max(played.values())
        quality[r["id"]] = next((q for q in QUALITIES if best > 0 and played[q] == best), r["quality"])
        credited = counting.credit_ms(
            [(e["elapsed_ms"], e["played_ms"]) for e in evs], rules=rules, duration_sec=duration[r["id"]]
        )
        plays.append(counting.Play(r["id"], r["user_id"], r["track_id"], r["day"], r["started_at"], credited))
    verdicts = counting.apply_daily_cap(plays, rules)
    daily: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    discards: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    counts: dict[int, int] = defaultdict(int)
    for r, p in zip(rows, plays, strict=True):
        key = (r["day"], r["track_id"], r["territory"] or "XX", quality[r["id"]], r["user_tier"] or "unknown")
        verdict = verdicts[r["id"]]
        cell = daily[key]
        cell[0] += 1
        cell[1] += verdict == "stream"
        cell[2] += verdict == "discarded"
        cell[3] += p.credited_ms
        counts[r["track_id"]] += verdict == "stream"
        if r["user_id"] is not None and verdict != "short":
            d = discards[(r["day"], r["user_id"], r["track_id"])]
            d[0] += 1
            d[1] += verdict == "discarded"
    return (
        {k: tuple(v) for k, v in daily.items()},
        {k: tuple(v) for k, v in discards.items() if v[1] > 0},
        dict(counts),
    )


def _actual(engine: Engine, track_ids: list[int]) -> tuple[dict, dict, dict]:
    with make_session_factory(engine)() as s:
        daily = {
            (_day(r.day), r.track_id, r.territory, r.quality, r.user_tier): (
                r.sessions,
                r.streams,
                r.discarded,
                r.played_ms,
            )
            for r in s.scalars(select(PlaybackDaily))
        }
        discards = {
            (_day(d.day), d.user_id, d.track_id): (d.qualified, d.discarded)
            for d in s.scalars(select(PlaybackDiscard))
        }
        counts = {t.id: t.play_count for t in s.scalars(select(Track).where(Track.id.in_(track_ids)))}
    return daily, discards, {t: n for t, n in counts.items() if n}


def _day(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def test_sql_counting_equals_the_python_rules(engine: Engine) -> None:
    rows, events, track_ids = _seed(engine, random.Random(4))
    done = rollups.refresh(engine, rules=RULES)
    assert done.days == tuple(DAY0 + timedelta(days=i) for i in range(3))
    daily, discards, counts = _expected(rows, events, RULES, track_ids)
    assert _actual(engine, track_ids) == (daily, discards, {t: n for t, n in counts.items() if n})
    assert discards, "the data should exercise the daily cap"
    assert any(v[2] for v in daily.values()) and any(v[1] for v in daily.values())
    # Nothing marked: nothing to do; a full recount changes nothing, play counts included.
    assert rollups.refresh(engine, rules=RULES).days == ()
    rollups.recompute(engine, start=DAY0, end=DAY0 + timedelta(days=3), rules=RULES, workers=2)
    assert _actual(engine, track_ids) == (daily, discards, {t: n for t, n in counts.items() if n})


def test_late_events_rebuild_only_their_day(engine: Engine) -> None:
    rows, events, track_ids = _seed(engine, random.Random(9))
    rollups.refresh(engine, rules=RULES)
    # A heartbeat arrives late for a session of the second day: that day, and only it, is rebuilt.
    late_session = next(r for r in rows if r["day"] == DAY0 + timedelta(days=1))
    late = {
        **next(e for e in events if e["session_id"] != late_session["id"]),
        "event_id": str(uuid.uuid4()),
        "session_id": late_session["id"],
        "track_id": late_session["track_id"],
        "session_day": late_session["day"],
        "elapsed_ms": 10 * 3_600_000,  # ten hours in: times the rate overflows a 32-bit integer
        "played_ms": 40_000,
        "quality": "flac",
    }
    sessions = make_session_factory(engine)
    with sessions() as s, s.begin():
        s.execute(insert(PlaybackEvent), [late])
        s.execute(insert(PlaybackDirtyDay), [{"day": late_session["day"]}])
    assert rollups.refresh(engine, rules=RULES).days == (late_session["day"],)
    expected = _expected(rows, [*events, late], RULES, track_ids)
    assert _actual(engine, track_ids) == (
        expected[0],
        expected[1],
        {t: n for t, n in expected[2].items() if n},
    )


def test_the_background_refresher_folds_marked_days_in(engine: Engine) -> None:
    _seed(engine, random.Random(2))
    refresher = rollups.RollupRefresher(engine, rules=RULES, interval=0.05)
    refresher.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with make_session_factory(engine)() as s:
                if s.scalar(select(PlaybackDirtyDay.id).limit(1)) is None:
                    break
            time.sleep(0.05)
    finally:
        refresher.close()
    with make_session_factory(engine)() as s:
        assert s.scalar(select(PlaybackDirtyDay.id).limit(1)) is None
        assert s.scalar(select(PlaybackDaily.day).limit(1)) is not None
