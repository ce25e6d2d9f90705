"""The counting rules: what an event may claim, a session's credit, the 30-second rule, the daily cap."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cadenza.royalties import counting
from cadenza.royalties.counting import ParsedEvent, Play, Rejected, SessionFacts
from cadenza.royalties.rules import Royalties

RULES = Royalties()
T0 = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)
SESSION = SessionFacts(
    id="s-1",
    user_id=7,
    track_id=3,
    territory="DE",
    started_ms=counting.to_ms(T0),
    day=T0.date(),
    duration_sec=200.0,
)


def _raw(**over: object) -> dict[str, object]:
    raw: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "session_id": "s-1",
        "kind": "progress",
        "occurred_at": (T0 + timedelta(seconds=10)).isoformat(),
        "seconds_played": 10,
        "quality": "aac_256",
    }
    raw.update(over)
    return raw


def _check(raw: dict[str, object], *, received: datetime | None = None, offset_ms: int = 0) -> int:
    """The elapsed_ms of an accepted event (raises Rejected otherwise)."""
    received_ms = counting.to_ms(received or T0 + timedelta(minutes=5))
    event = counting.parse_event(raw)
    return counting.check_event(
        event, SESSION, received_ms=received_ms, clock_offset_ms=offset_ms, rules=RULES
    ).elapsed_ms


def _heartbeats(*seconds: float, every: float = 10.0) -> list[tuple[int, int]]:
    """Events every `every` s claiming the given seconds, as (elapsed_ms, played_ms)."""
    return [(round((i + 1) * every * 1000), round(s * 1000)) for i, s in enumerate(seconds)]


def credit(events: list[tuple[int, int]], duration: float | None = 200.0) -> int:
    return counting.credit_ms(events, rules=RULES, duration_sec=duration)


@pytest.mark.parametrize(
    ("claims", "counted"),
    [((10, 10, 9), False), ((10, 10, 10), True), ((10, 10, 11), True), ((29,), False), ((30,), True)],
    ids=["29s", "30s", "31s", "29s-in-one", "30s-in-one"],
)
def test_the_threshold_is_thirty_seconds_reached(claims: tuple[int, ...], counted: bool) -> None:
    every = 10.0 if len(claims) > 1 else 31.0
    total = credit(_heartbeats(*claims, every=every))
    assert total == sum(claims) * 1000
    assert counting.is_stream(total, RULES) is counted


def test_seeking_ahead_adds_no_time() -> None:
    # 12 s played, a seek to 3:00, 10 s more: positions say 190 s, the heartbeats say 22.
    events = [
        counting.parse_event(_raw(kind="progress", seconds_played=12, position_ms=12_000)),
        counting.parse_event(_raw(kind="seek", seconds_played=0, position_ms=180_000)),
        counting.parse_event(_raw(kind="progress", seconds_played=10, position_ms=190_000)),
    ]
    walk = [(12_000, events[0].played_ms), (13_000, events[1].played_ms), (23_000, events[2].played_ms)]
    assert credit(walk) == 22_000
    assert not counting.is_stream(credit(walk), RULES)


def test_a_pause_stops_the_clock_but_not_the_session() -> None:
    # 20 s, a pause of ten minutes, 15 s: 35 s counted, the pause itself never.
    walk = [(20_000, 20_000), (21_000, 0), (621_000, 0), (636_000, 15_000)]
    assert credit(walk) == 35_000


def test_claims_cannot_run_ahead_of_the_wall_clock() -> None:
    # At 10 s the player claims 10, at 12 s another 12: only 14 s (12 + 2 s tolerance) had been possible.
    assert credit([(10_000, 10_000), (12_000, 12_000)]) == 14_000
    # Whatever comes later cannot recover what was clipped.
    assert credit([(10_000, 10_000), (12_000, 12_000), (40_000, 0)]) == 14_000
    # A single claim right at the start is cut to what the clock allows.
    assert credit([(1_000, 30_000), (40_000, 0)]) == 3_000


def test_a_session_is_credited_at_most_the_track_duration() -> None:
    walk = [(i * 10_000, 10_000) for i in range(1, 40)]  # 390 s of honest heartbeats
    assert credit(walk, duration=200.0) == 200_000
    assert credit(walk, duration=None) == 390_000
    assert counting.duration_cap_ms(199.9996, RULES) == 199_999  # floor, as the SQL does


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 600_000), st.integers(0, 40_000)), min_size=0, max_size=25),
    st.randoms(use_true_random=False),
)
def test_credit_is_the_closed_form_and_ignores_arrival_order(
    events: list[tuple[int, int]], rnd: random.Random
) -> None:
    shuffled = events[:]
    rnd.shuffle(shuffled)
    assert credit(events, None) == credit(shuffled, None)
    # The closed form that the SQL evaluates: sum + min(0, min over events of cap - running sum),
    # where the running sum includes every event at the same instant.
    ordered = sorted(events)
    headrooms = []
    for elapsed, _ in ordered:
        prefix = sum(p for e, p in ordered if e <= elapsed)
        headrooms.append(elapsed * RULES.rate_permille // 1000 + RULES.tolerance_ms - prefix)
    closed = sum(p for _, p in ordered) + min([0, *headrooms])
    assert credit(events, None) == closed
    assert 0 <= closed <= max([e for e, _ in events] or [0]) + RULES.tolerance_ms


def test_event_shape_is_checked_field_by_field() -> None:
    cases = {
        "negative": ({"seconds_played": -1}, "cannot be negative"),
        "uuid": ({"id": "not-a-uuid"}, "UUID"),
        "kind": ({"kind": "rewind"}, "kind must be one of"),
        "quality": ({"quality": "aac_64"}, "quality must be one of"),
        "naive time": ({"occurred_at": "2026-11-05T12:00:10"}, "time zone"),
        "bad time": ({"occurred_at": "yesterday"}, "ISO 8601"),
        "extra field": ({"bonus": 1}, "unknown field 'bonus'"),
        "rate": ({"playback_rate": 0}, "playback_rate"),
        "position": ({"position_ms": -5}, "position_ms"),
        "seconds type": ({"seconds_played": "10"}, "must be a number"),
        "nan": ({"seconds_played": float("nan")}, "must be a number"),
    }
    for name, (over, reason) in cases.items():
        with pytest.raises(Rejected, match=reason):
            counting.parse_event(_raw(**over))
        assert name
    with pytest.raises(Rejected, match="JSON object"):
        counting.parse_event(["not", "an", "object"])
    parsed = counting.parse_event(_raw(id=str(uuid.uuid4()).upper(), occurred_at=counting.to_ms(T0) + 5))
    assert parsed.event_id == parsed.event_id.lower() and parsed.occurred_ms == counting.to_ms(T0) + 5


def test_session_rules_reject_what_time_does_not_allow() -> None:
    assert _check(_raw()) == 10_000
    with pytest.raises(Rejected, match="more than the 10 s since the session started"):
        _check(_raw(seconds_played=12.5))
    with pytest.raises(Rejected, match="in the future"):
        _check(_raw(occurred_at=(T0 + timedelta(hours=2)).isoformat()))
    with pytest.raises(Rejected, match="before the session started"):
        _check(_raw(occurred_at=(T0 - timedelta(minutes=5)).isoformat(), seconds_played=0))
    with pytest.raises(Rejected, match="too old"):
        late = T0 + timedelta(hours=25)
        _check(_raw(occurred_at=late.isoformat()), received=late)
    with pytest.raises(Rejected, match="more than the track lasts"):
        late = T0 + timedelta(minutes=10)
        _check(_raw(occurred_at=late.isoformat(), seconds_played=201), received=late)
    with pytest.raises(Rejected, match="not the track"):
        _check(_raw(track_id=4))
    assert _check(_raw(track_id=3)) == 10_000


def test_a_batch_sent_at_corrects_the_player_clock() -> None:
    # The player's clock is 7 minutes slow: its events look older than the session, until the batch's
    # sent_at (on the same slow clock) puts them back on the server's timeline.
    slow = timedelta(minutes=7)
    received = T0 + timedelta(seconds=40)
    raw = _raw(occurred_at=(T0 + timedelta(seconds=30) - slow).isoformat(), seconds_played=30)
    with pytest.raises(Rejected, match="before the session started"):
        _check(raw, received=received)
    offset = counting.to_ms(received) - counting.to_ms(received - slow)
    assert _check(raw, received=received, offset_ms=offset) == 30_000
    # A clock that runs fast gains nothing: time is capped at when the server received the event.
    fast = _raw(occurred_at=(T0 + timedelta(seconds=50)).isoformat(), seconds_played=0)
    assert _check(fast, received=received) == 40_000


def _play(n: int, *, user: int | None = 7, credited: int = 40_000, day: date = T0.date()) -> Play:
    return Play(f"s{n:03d}", user, 3, day, T0 + timedelta(minutes=n), credited)


def test_daily_cap_discards_streams_beyond_it_in_start_order() -> None:
    rules = Royalties(daily_cap_per_track=2)
    plays = [
        _play(3),
        _play(1),
        _play(2, credited=10_000),
        _play(4),
        _play(5, user=None),
        _play(6, user=None),
    ]
    verdicts = counting.apply_daily_cap(plays, rules)
    assert verdicts == {
        "s001": "stream",
        "s002": "short",  # a short session does not use up the cap
        "s003": "stream",
        "s004": "discarded",
        "s005": "stream",  # no listener account left to cap
        "s006": "stream",
    }
    next_day = [_play(7, day=T0.date() + timedelta(days=1))]
    assert counting.apply_daily_cap(plays + next_day, rules)["s007"] == "stream"


def test_parsed_event_is_a_plain_value() -> None:
    e = counting.parse_event(_raw(seconds_played=12.3456))
    assert isinstance(e, ParsedEvent) and e.played_ms == 12_346 and e.kind == "progress"
