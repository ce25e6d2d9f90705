"""The playback event parser against hostile input: any JSON value an event or a batch can hold ends in a
parsed event or a rejection with a reason naming the field, never another exception; valid events parse
exactly as the documented shape says."""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cadenza.royalties import counting
from cadenza.royalties.counting import Rejected
from cadenza.royalties.rules import KINDS, QUALITIES

T0 = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)
FIELDS = ("id", "session_id", "kind", "occurred_at", "seconds_played", "position_ms", "quality",
          "playback_rate", "track_id")  # fmt: skip

# Values that broke parsers somewhere: types JSON allows where another is expected, text a database or an
# encoder refuses, numbers beyond every column, dates no calendar has.
HOSTILE = [
    None, True, False, 0, -1, 2**31, 2**63, 2**70, 10**400, -(10**400), 1e308, -1e308, 5e-324,
    math.nan, math.inf, -math.inf, "", " ", "\x00", "a\x00b", "\ud800", "x\udfff", "\u0663", "\u00b2", "1_0",
    "NaN", "Infinity", "-0", "0000-01-01T00:00:00Z", "10000-01-01T00:00:00Z", "2026-11-05T12:00:10",
    "2026-11-05T12:00:10\x00Z", "\uff12\uff10\uff12\uff16-11-05T12:00:10Z", "9999-12-31T23:59:59-14:00",
    "x" * 10_000,
    [], [1], {}, {"a": 1}, [[[]]],
]  # fmt: skip


def json_values() -> st.SearchStrategy[object]:
    """Every value json.loads can return (NaN and ±Infinity included: Python's json reads them)."""
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


def _speakable(reason: str) -> None:
    """A reason goes back to the player in a JSON answer: it must encode as UTF-8 and stay short."""
    assert isinstance(reason, str) and reason
    json.dumps({"reason": reason}, ensure_ascii=False).encode("utf-8")
    assert len(reason) < 300


@given(json_values())
@settings(max_examples=400)
def test_any_json_value_as_an_event_is_parsed_or_rejected_with_a_reason(raw: object) -> None:
    try:
        counting.parse_event(raw)
    except Rejected as exc:
        _speakable(exc.reason)


@given(st.sampled_from(FIELDS), json_values())
@settings(max_examples=600)
def test_a_bad_field_is_named_in_the_reason(field: str, value: object) -> None:
    try:
        parsed = counting.parse_event(_raw(**{field: value}))
    except Rejected as exc:
        _speakable(exc.reason)
        assert field in exc.reason
        return
    # Whatever got through is of the documented shape: ASCII text from closed sets, bounded numbers.
    assert counting.event_id(parsed.event_id) == parsed.event_id
    assert parsed.session_id.isascii() and parsed.session_id.isprintable() and len(parsed.session_id) <= 36
    assert parsed.kind in KINDS and (parsed.quality is None or parsed.quality in QUALITIES)
    assert 0 <= parsed.seconds_played <= 86_400 and 0 <= parsed.played_ms <= 86_400_000
    assert parsed.position_ms is None or 0 <= parsed.position_ms < 2**31
    assert parsed.track_id is None or 1 <= parsed.track_id < 2**63
    assert parsed.playback_rate is None or 0 < parsed.playback_rate <= 16
    counting.from_ms(parsed.occurred_ms)  # a real instant


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: repr(v)[:24])
def test_each_known_hostile_value_in_each_field(field: str, value: object) -> None:
    test_a_bad_field_is_named_in_the_reason.hypothesis.inner_test(field, value)  # type: ignore[attr-defined]


def test_the_values_that_used_to_crash_the_parser_are_rejected() -> None:
    for over, reason in [
        ({"kind": []}, "kind must be one of"),  # unhashable: `in frozenset` raised TypeError
        ({"quality": {}}, "quality must be one of"),
        ({"session_id": "\x00" * 3}, "session_id"),  # PostgreSQL refuses NUL: it was a 503
        ({"session_id": "\ud800"}, "session_id"),  # the UTF-8 encoder refuses it: it was a 500
        ({"id": "\u0663" * 32}, "UUID"),  # int(..., 16) reads Arabic-Indic digits
        ({"id": "1_2" + "0" * 29}, "UUID"),
        ({"track_id": 2**70}, "track_id"),
        ({"occurred_at": 10**400}, "between the years 1 and 9999"),
        ({"occurred_at": "2026-11-05T12:00:10\x00Z"}, "ISO 8601"),  # fromisoformat reads past the NUL
        ({"occurred_at": "0000-01-01T00:00:00Z"}, "ISO 8601"),
        ({"seconds_played": True}, "must be a number"),
        ({"seconds_played": 10**400}, "must be a number"),
        ({"position_ms": 12.0}, "position_ms"),
        ({"\ud800": 1}, "unknown field"),
    ]:
        with pytest.raises(Rejected, match=reason):
            counting.parse_event(_raw(**over))


ids = st.uuids().map(str)
valid_events = st.fixed_dictionaries(
    {
        "id": st.one_of(
            ids, ids.map(str.upper), ids.map(lambda u: u.replace("-", "")), ids.map("{{{}}}".format)
        ),
        "session_id": st.uuids().map(str),
        "kind": st.sampled_from(KINDS),
        "occurred_at": st.one_of(
            st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat),
            st.integers(min_value=0, max_value=4_000_000_000_000),
        ),
    },
    optional={
        "seconds_played": st.one_of(st.none(), st.integers(0, 86_400), st.floats(0, 86_400)),
        "position_ms": st.one_of(st.none(), st.integers(0, 2**31 - 1)),
        "quality": st.one_of(st.none(), st.sampled_from(QUALITIES)),
        "playback_rate": st.one_of(st.none(), st.floats(0, 16, exclude_min=True)),
        "track_id": st.one_of(st.none(), st.integers(1, 2**63 - 1)),
    },
)


@given(valid_events)
@settings(max_examples=300)
def test_every_event_of_the_documented_shape_parses_to_what_it_says(raw: dict[str, object]) -> None:
    parsed = counting.parse_event(raw)
    assert parsed.event_id == str(uuid.UUID(str(raw["id"])))
    assert parsed.session_id == raw["session_id"] and parsed.kind == raw["kind"]
    when = raw["occurred_at"]
    expected_ms = when if isinstance(when, int) else counting.to_ms(datetime.fromisoformat(str(when)))
    assert parsed.occurred_ms == expected_ms
    seconds = float(raw.get("seconds_played") or 0.0)  # type: ignore[arg-type]
    assert parsed.seconds_played == seconds and parsed.played_ms == round(seconds * 1000)
    for key, value in (("position_ms", parsed.position_ms), ("quality", parsed.quality),
                       ("playback_rate", parsed.playback_rate), ("track_id", parsed.track_id)):  # fmt: skip
        assert value == raw.get(key)


@given(json_values())
@settings(max_examples=200)
def test_a_timestamp_is_epoch_milliseconds_of_a_real_instant_or_rejected(value: object) -> None:
    try:
        ms = counting.parse_timestamp(value, "sent_at")
    except Rejected as exc:
        assert "sent_at" in exc.reason
        return
    counting.from_ms(ms)
