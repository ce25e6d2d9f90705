"""Hostile playback batches through the real Ingestor on both databases: any JSON body ends in a refused
batch (InvalidInput) or an answer per event; a malformed event is rejected on its own, with its index and a
reason, and the good events of its batch are stored; nothing a database refuses (NUL, lone surrogates,
out-of-range numbers) reaches it."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from cadenza.catalog.models import Track, TrackStatus
from cadenza.db.engine import make_session_factory, transaction
from cadenza.errors import InvalidInput
from cadenza.royalties import counting
from cadenza.royalties.counting import Rejected
from cadenza.royalties.ingest import BatchResult, Ingestor, SessionDirectory
from cadenza.royalties.models import PlaybackEvent, PlaybackSession
from cadenza.royalties.rules import Royalties

FIELDS = ("id", "session_id", "kind", "occurred_at", "seconds_played", "position_ms", "quality",
          "playback_rate", "track_id")  # fmt: skip
HOSTILE = [
    None, True, 0, -1, 2**31, 2**63, 2**70, 10**400, 1e308, math.nan, math.inf, -math.inf, "", "\x00",
    "a\x00b", "\ud800", "\u0663", "\u00b2", "0000-01-01T00:00:00Z", "10000-01-01T00:00:00Z",
    "2026-11-05T12:00:10", "x" * 5000, [], {}, {"a": [1]},
]  # fmt: skip
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def json_values() -> st.SearchStrategy[object]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.integers(min_value=2**60, max_value=10**500)
        | st.floats(allow_nan=True, allow_infinity=True)
        | st.text()
        | st.sampled_from(HOSTILE)
    )
    return st.recursive(
        scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4)
    )


@dataclass
class World:
    engine: Engine
    ingestor: Ingestor
    session_id: str
    started: datetime
    track_id: int

    def event(self, event_id: uuid.UUID, at: float, **over: object) -> dict[str, object]:
        """A valid event `at` seconds into the session, claiming one second."""
        raw: dict[str, object] = {
            "id": str(event_id),
            "session_id": self.session_id,
            "kind": "progress",
            "occurred_at": (self.started + timedelta(seconds=at)).isoformat(),
            "seconds_played": 1,
            "quality": "aac_256",
        }
        raw.update(over)
        return raw


@pytest.fixture(scope="module")
def world(db: tuple[Engine, str]) -> Iterator[World]:
    """A track and one open session (30 minutes old) on the module's database; the ingestor's clock is
    fixed at the session's start plus 30 minutes."""
    engine = db[0]
    sessions = make_session_factory(engine)
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    with transaction(sessions) as s:
        track = Track(title="Song", status=TrackStatus.ready, duration_sec=3600.0)
        s.add(track)
        s.flush()
        session = PlaybackSession(
            id=str(uuid.uuid4()), track_id=track.id, territory="DE", started_at=started, day=started.date()
        )
        s.add(session)
        track_id, session_id = track.id, session.id
    now = (started + timedelta(minutes=30)).timestamp()
    ingestor = Ingestor(sessions, Royalties(), SessionDirectory(sessions), clock=lambda: now)
    yield World(engine, ingestor, session_id, started, track_id)


def _answer(result: BatchResult, n_events: int) -> None:
    """The answer is JSON a server can send (UTF-8), and says something about every event exactly once."""
    body = json.dumps(result.as_dict(), ensure_ascii=False, allow_nan=False).encode("utf-8")
    assert body
    rejected = [r["index"] for r in result.rejected]
    assert len(rejected) == len(set(rejected)) and all(0 <= i < n_events for i in rejected)  # type: ignore[operator]
    assert len(result.accepted) + len(result.duplicates) + len(rejected) == n_events
    for r in result.rejected:
        assert isinstance(r["reason"], str) and r["reason"]
        assert r["id"] is None or counting.event_id(r["id"]) == r["id"]


@given(json_values())
@SETTINGS
def test_any_json_body_is_refused_whole_or_answered_event_by_event(world: World, body: object) -> None:
    try:
        result = world.ingestor.ingest(body, user_id=None)
    except InvalidInput as exc:
        assert exc.reason
        return
    assert isinstance(body, dict) and isinstance(body["events"], list)
    _answer(result, len(body["events"]))


@given(st.lists(json_values(), max_size=6), json_values())
@SETTINGS
def test_any_events_list_is_answered_event_by_event(world: World, events: list[object], sent: object) -> None:
    body = {"events": events, "sent_at": sent}
    try:
        result = world.ingestor.ingest(body, user_id=None)
    except InvalidInput as exc:
        assert "sent_at" in exc.reason  # the only batch-level field left to be wrong
        return
    _answer(result, len(events))
    assert not result.accepted  # nothing random is a valid event of a real session


@given(
    ids=st.lists(st.uuids(), min_size=3, max_size=3, unique=True),
    field=st.sampled_from(FIELDS),
    change=st.one_of(
        st.tuples(st.just("set"), st.one_of(json_values(), st.sampled_from(HOSTILE))),
        st.tuples(st.just("delete"), st.none()),
        st.tuples(st.just("add"), st.text(min_size=1)),
    ),
)
@SETTINGS
def test_one_broken_event_costs_only_itself(
    world: World, ids: list[uuid.UUID], field: str, change: tuple[str, object]
) -> None:
    events = [world.event(ids[i], at=60 * (i + 1)) for i in range(3)]
    how, value = change
    broken = events[1]
    if how == "set":
        broken[field] = value
    elif how == "delete":
        broken.pop(field, None)
    elif str(value) not in broken:
        broken[str(value)] = 1
    result = world.ingestor.ingest({"sent_at": None, "events": events}, user_id=None)
    _answer(result, 3)
    stored = set(result.accepted) | set(result.duplicates)
    assert {str(ids[0]), str(ids[2])} <= stored  # the good events around it are stored
    try:
        counting.parse_event(broken)
    except Rejected as exc:
        (rejection,) = result.rejected
        assert rejection["index"] == 1 and rejection["reason"] == exc.reason
        return
    # A change that left a valid shape is judged by the session rules like any event.
    assert len(result.rejected) <= 1 and all(r["index"] == 1 for r in result.rejected)


def test_good_events_beside_the_worst_ones_are_stored(world: World) -> None:
    good = [world.event(uuid.uuid4(), at=600 + i) for i in range(2)]
    bad: list[object] = [
        {**world.event(uuid.uuid4(), at=700), "session_id": "\x00" * 8},  # PostgreSQL refuses NUL
        {**world.event(uuid.uuid4(), at=700), "session_id": "\ud800"},  # UTF-8 cannot carry it
        {**world.event(uuid.uuid4(), at=700), "id": "\ud800" * 36},
        {**world.event(uuid.uuid4(), at=700), "kind": ["progress"]},  # was a TypeError (unhashable)
        {**world.event(uuid.uuid4(), at=700), "track_id": 2**70},
        {**world.event(uuid.uuid4(), at=700), "occurred_at": "0000-01-01T00:00:00Z"},
        {**world.event(uuid.uuid4(), at=700), "occurred_at": 10**400},
        {**world.event(uuid.uuid4(), at=700), "seconds_played": math.nan},
        {**world.event(uuid.uuid4(), at=700), "position_ms": 2**40},
        "not an event",
    ]
    result = world.ingestor.ingest({"events": [good[0], *bad, good[1]]}, user_id=None)
    _answer(result, len(bad) + 2)
    assert sorted(result.accepted) == sorted(str(e["id"]) for e in good)
    reasons = {r["index"]: r["reason"] for r in result.rejected}
    assert sorted(reasons) == list(range(1, len(bad) + 1))
    assert "session_id" in reasons[1] and "session_id" in reasons[2] and "id must be a UUID" in reasons[3]
    assert "kind" in reasons[4] and "track_id" in reasons[5] and "occurred_at" in reasons[6]
    assert "occurred_at" in reasons[7] and "seconds_played" in reasons[8] and "position_ms" in reasons[9]
    assert [r["id"] for r in result.rejected][2] is None  # an id that is not a UUID is not echoed
    with world.engine.connect() as conn:
        n = conn.scalar(select(func.count()).select_from(PlaybackEvent).where(PlaybackEvent.event_id.in_(
            [str(e["id"]) for e in good])))  # fmt: skip
    assert n == 2


@pytest.mark.parametrize(
    "body",
    [
        None, [], "events", 5, {"events": None}, {"events": {"0": {}}}, {"events": "[]"},
        {"events": [{}] * 501}, {"events": [], "sent_at": "\x00"}, {"events": [], "sent_at": 10**400},
        {"events": [], "sent_at": True}, {"events": [], "sent_at": "2026-11-05T12:00:00"},
        {"events": [], "sent_at": []}, {"events": [], "sent_at": "10000-01-01T00:00:00Z"},
    ],
    ids=lambda b: repr(b)[:30],
)  # fmt: skip
def test_a_malformed_batch_is_refused_whole_with_a_reason(world: World, body: object) -> None:
    with pytest.raises(InvalidInput) as exc:
        world.ingestor.ingest(body, user_id=None)
    json.dumps(exc.value.reason, ensure_ascii=False).encode("utf-8")
