"""The counting rules in plain Python: what a playback event may claim, how much listening a session is
credited with, and which sessions are streams.

All time is integer milliseconds. The database computes the same credit in SQL (rollups.py); the
functions here are the reference that the tests hold the SQL to.

Credit of a session: walk its events in time order (`elapsed_ms` from the session start); each event's
claim `played_ms` is added, clipped so that the running total never exceeds the event's cap
`elapsed_ms * rate + tolerance`. Caps only grow along the walk, so the order among events at the same
instant does not matter, and the total equals the closed form
`sum(played) + min(0, min_k(cap_k - prefix_sum_k))` that SQL evaluates with one running sum. The total
is then capped at the track's duration times `duration_factor`.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from cadenza.royalties.rules import KINDS, QUALITIES, Royalties

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_KINDS = frozenset(KINDS)
_QUALITIES = frozenset(QUALITIES)
_FIELDS = frozenset(
    {"id", "session_id", "kind", "occurred_at", "position_ms", "seconds_played", "quality", "playback_rate",
     "track_id"}
)  # fmt: skip
NO_CAP = 1 << 62
_INT32 = 2**31 - 1
_DAY_SEC = 86_400
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Rejected(Exception):
    """An event that cannot be stored, with the reason sent back to the player."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """What validating an event needs to know about its session."""

    id: str
    user_id: int | None
    track_id: int
    territory: str | None
    started_ms: int
    day: date
    duration_sec: float | None


@dataclass(frozen=True, slots=True)
class ParsedEvent:
    """An event whose shape is valid; `occurred_ms` is still on the player's clock."""

    event_id: str
    session_id: str
    kind: str
    occurred_ms: int
    position_ms: int | None
    seconds_played: float
    played_ms: int
    quality: str | None
    playback_rate: float | None
    track_id: int | None


@dataclass(frozen=True, slots=True)
class CheckedEvent:
    """An event that passed every rule, placed on the server's clock and relative to its session."""

    parsed: ParsedEvent
    session: SessionFacts
    occurred_ms: int
    elapsed_ms: int


def to_ms(at: datetime) -> int:
    """Milliseconds since the epoch (floor), exact for any aware datetime."""
    return (at - _EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def parse_timestamp(value: object, what: str) -> int:
    """An ISO 8601 time with a zone, or epoch milliseconds, as epoch milliseconds."""
    if isinstance(value, str):
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            raise Rejected(f"{what} is not an ISO 8601 time") from None
        if at.tzinfo is None:
            raise Rejected(f"{what} needs a time zone (e.g. a trailing Z)")
        return to_ms(at)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return int(value)
    raise Rejected(f"{what} must be an ISO 8601 time or epoch milliseconds")


def _number(raw: dict[str, object], key: str) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Rejected(f"{key} must be a number")
    return float(value)


def duration_cap_ms(duration_sec: float | None, rules: Royalties) -> int:
    """The most a session of a track of this duration can be credited (floor, as the SQL computes it)."""
    if not duration_sec or duration_sec <= 0:
        return NO_CAP
    return math.floor(duration_sec * rules.duration_factor * 1000)


def parse_event(raw: object) -> ParsedEvent:
    """Check an event's shape and values that need no database; raise Rejected with the reason."""
    if not isinstance(raw, dict):
        raise Rejected("an event must be a JSON object")
    unknown = raw.keys() - _FIELDS
    if unknown:
        raise Rejected(f"unknown field {sorted(unknown)[0]!r}")
    event_id = raw.get("id")
    if not isinstance(event_id, str):
        raise Rejected("id must be a UUID string made by the player")
    if not _CANONICAL_UUID.fullmatch(event_id):
        try:
            event_id = str(uuid.UUID(event_id))
        except ValueError:
            raise Rejected("id must be a UUID string made by the player") from None
    session_id = raw.get("session_id")
    if not isinstance(session_id, str) or not 0 < len(session_id) <= 36:
        raise Rejected("session_id must be the session id the stream endpoint returned")
    kind = raw.get("kind")
    if kind not in _KINDS:
        raise Rejected(f"kind must be one of {', '.join(KINDS)}")
    if "occurred_at" not in raw:
        raise Rejected("occurred_at is required")
    occurred_ms = parse_timestamp(raw["occurred_at"], "occurred_at")
    seconds = _number(raw, "seconds_played") or 0.0
    if seconds < 0:
        raise Rejected("seconds_played cannot be negative")
    if seconds > _DAY_SEC:
        raise Rejected("seconds_played is more than a day")
    position = raw.get("position_ms")
    if position is not None and (
        isinstance(position, bool) or not isinstance(position, int) or not 0 <= position <= _INT32
    ):
        raise Rejected("position_ms must be a whole number of milliseconds, at least 0")
    quality = raw.get("quality")
    if quality is not None and quality not in _QUALITIES:
        raise Rejected(f"quality must be one of {', '.join(QUALITIES)}")
    rate = _number(raw, "playback_rate")
    if rate is not None and not 0 < rate <= 16:
        raise Rejected("playback_rate must be above 0 and at most 16")
    track_id = raw.get("track_id")
    if track_id is not None and (isinstance(track_id, bool) or not isinstance(track_id, int)):
        raise Rejected("track_id must be a whole number")
    return ParsedEvent(
        event_id=event_id,
        session_id=session_id,
        kind=kind,  # type: ignore[arg-type]
        occurred_ms=occurred_ms,
        position_ms=position,  # type: ignore[arg-type]
        seconds_played=seconds,
        played_ms=round(seconds * 1000),
        quality=quality,  # type: ignore[arg-type]
        playback_rate=rate,
        track_id=track_id,  # type: ignore[arg-type]
    )


def check_event(
    e: ParsedEvent, s: SessionFacts, *, received_ms: int, clock_offset_ms: int, rules: Royalties
) -> CheckedEvent:
    """Place an event on the server's clock and apply the rules that need its session.

    `clock_offset_ms` is the server's receive time minus the batch's `sent_at` (0 without one): adding it
    to the player's timestamps removes the player's clock error (the way analytics pipelines correct
    device clocks). The server's receive time bounds everything, so no clock setting buys credit."""
    if e.track_id is not None and e.track_id != s.track_id:
        raise Rejected(f"track {e.track_id} is not the track of session {s.id}")
    occurred = e.occurred_ms + clock_offset_ms
    tolerance = rules.timestamp_tolerance_ms
    if occurred > received_ms + tolerance:
        raise Rejected("occurred_at is in the future")
    if occurred < s.started_ms - tolerance:
        raise Rejected("occurred_at is before the session started")
    if occurred - s.started_ms > rules.max_session_ms:
        raise Rejected("the session is too old: open a new one through the stream endpoint")
    elapsed = max(0, min(occurred, received_ms) - s.started_ms)
    if e.played_ms > elapsed * rules.rate_permille // 1000 + rules.tolerance_ms:
        since = f"the {elapsed / 1000:g} s since the session started"
        raise Rejected(f"seconds_played {e.seconds_played:g} is more than {since}")
    if e.played_ms > duration_cap_ms(s.duration_sec, rules):
        raise Rejected(f"seconds_played {e.seconds_played:g} is more than the track lasts")
    return CheckedEvent(parsed=e, session=s, occurred_ms=occurred, elapsed_ms=elapsed)


def credit_ms(events: Iterable[tuple[int, int]], *, rules: Royalties, duration_sec: float | None) -> int:
    """Credited listening time of one session from its events' (elapsed_ms, played_ms)."""
    total = 0
    for elapsed, played in sorted(events):
        cap = elapsed * rules.rate_permille // 1000 + rules.tolerance_ms
        total = max(total, min(total + played, cap))
    return min(total, duration_cap_ms(duration_sec, rules))


def is_stream(credited_ms: int, rules: Royalties) -> bool:
    return credited_ms >= rules.threshold_ms


@dataclass(frozen=True, slots=True)
class Play:
    """A session's outcome before the anti-fraud cap, for the reference `apply_daily_cap`."""

    session_id: str
    user_id: int | None
    track_id: int
    day: date
    started_at: datetime
    credited_ms: int


def apply_daily_cap(plays: Iterable[Play], rules: Royalties) -> dict[str, str]:
    """Each session's verdict: "stream", "discarded" (over the per listener, track and day cap) or "short".

    Qualifying sessions count in start order (ties by id); sessions whose listener account is gone have
    no one to cap and all count."""
    verdicts: dict[str, str] = {}
    seen: dict[tuple[int, int, date], int] = {}
    for p in sorted(plays, key=lambda p: (p.started_at, p.session_id)):
        if not is_stream(p.credited_ms, rules):
            verdicts[p.session_id] = "short"
            continue
        if p.user_id is None:
            verdicts[p.session_id] = "stream"
            continue
        key = (p.user_id, p.track_id, p.day)
        seen[key] = seen.get(key, 0) + 1
        verdicts[p.session_id] = "stream" if seen[key] <= rules.daily_cap_per_track else "discarded"
    return verdicts
