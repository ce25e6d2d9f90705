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
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationError,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from cadenza.royalties.rules import KINDS, QUALITIES, Royalties

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
NO_CAP = 1 << 62
_INT32 = 2**31 - 1
_INT64 = 2**63 - 1
_DAY_SEC = 86_400
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# The other spellings `uuid.UUID` reads (upper case, no hyphens, braces, a urn: prefix), in ASCII only.
_UUID_FORMS = re.compile(r"(?:urn:uuid:)?\{?(?:[0-9A-Fa-f]-?){31}[0-9A-Fa-f]\}?")
# Session ids are the stream endpoint's UUIDs; anything of their alphabet and size is looked up.
_SESSION_ID = r"^[0-9A-Za-z_-]{1,36}$"
_MAX_TIME_TEXT = 64
_MIN_MS = -62_135_596_800_000  # 0001-01-01T00:00:00Z
_MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


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
    """An ISO 8601 time with a zone, or epoch milliseconds, as epoch milliseconds between the years 1 and
    9999 (what a datetime can hold, so `from_ms` works on every accepted value).

    Text must be short printable ASCII: `datetime.fromisoformat` reads past a NUL (`...00\\x00Z` parses)
    and Unicode digits are no one's clock."""
    if isinstance(value, str):
        if len(value) > _MAX_TIME_TEXT or not value.isascii() or not value.isprintable():
            raise Rejected(f"{what} is not an ISO 8601 time")
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            raise Rejected(f"{what} is not an ISO 8601 time") from None
        if at.tzinfo is None:
            raise Rejected(f"{what} needs a time zone (e.g. a trailing Z)")
        ms = to_ms(at)
    elif isinstance(value, int) and not isinstance(value, bool):
        ms = value  # compared as an int: math.isfinite(10**400) raises OverflowError
    elif isinstance(value, float) and math.isfinite(value):
        ms = int(value)
    else:
        raise Rejected(f"{what} must be an ISO 8601 time or epoch milliseconds")
    if not _MIN_MS <= ms <= _MAX_MS:
        raise Rejected(f"{what} is not between the years 1 and 9999")
    return ms


def event_id(value: object) -> str | None:
    """A player's event id in canonical form (lower case, hyphenated), or None if it is not a UUID.

    Only ASCII hex is read: `uuid.UUID` hands the digits to `int(..., 16)`, which takes Arabic-Indic
    digits, underscores and surrounding blanks too."""
    if not isinstance(value, str):
        return None
    if _CANONICAL_UUID.fullmatch(value):
        return value
    return str(uuid.UUID(value)) if _UUID_FORMS.fullmatch(value) else None


def _valid_id(value: str) -> str:
    canonical = event_id(value)
    if canonical is None:
        raise PydanticCustomError("event", "id must be a UUID string made by the player")
    return canonical


def _valid_time(value: object) -> int:
    try:
        return parse_timestamp(value, "occurred_at")
    except Rejected as exc:
        raise PydanticCustomError("event", exc.reason) from None


class _EventSchema(BaseModel):
    """One event as documented (the OpenAPI schema of POST /api/playback/events), checked strictly: a
    JSON boolean is not a number, 12.0 is not a whole number of milliseconds, nothing is read out of
    text, and every text that reaches the database is ASCII from a closed set (no NUL for PostgreSQL,
    no lone surrogate for the UTF-8 encoder)."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)

    id: Annotated[str, AfterValidator(_valid_id)]
    session_id: Annotated[str, StringConstraints(pattern=_SESSION_ID)]
    kind: Literal[KINDS]  # type: ignore[valid-type]  # the rules' vocabularies, defined once
    occurred_at: Annotated[int, PlainValidator(_valid_time)]
    seconds_played: Annotated[float | None, Field(ge=0, le=_DAY_SEC)] = None
    position_ms: Annotated[int | None, Field(ge=0, le=_INT32)] = None
    quality: Literal[QUALITIES] | None = None  # type: ignore[valid-type]
    playback_rate: Annotated[float | None, Field(gt=0, le=16)] = None
    track_id: Annotated[int | None, Field(ge=1, le=_INT64)] = None


_FIELDS = frozenset(_EventSchema.model_fields)

# What the player hears when a field fails, by field and (where it matters) pydantic's error type.
_REASONS: dict[str, str] = {
    "id": "id must be a UUID string made by the player",
    "session_id": "session_id must be the session id the stream endpoint returned",
    "kind": f"kind must be one of {', '.join(KINDS)}",
    "seconds_played": "seconds_played must be a number",
    "seconds_played/greater_than_equal": "seconds_played cannot be negative",
    "seconds_played/less_than_equal": "seconds_played is more than a day",
    "position_ms": f"position_ms must be a whole number of milliseconds, from 0 to {_INT32}",
    "quality": f"quality must be one of {', '.join(QUALITIES)}",
    "playback_rate": "playback_rate must be a number above 0 and at most 16",
    "track_id": f"track_id must be a whole number from 1 to {_INT64}",
}


def _reason(error: ErrorDetails) -> str:
    """The first failure of an event as one sentence naming the field (the player logs it)."""
    field = str(error["loc"][0]) if error["loc"] else "event"
    kind = error["type"]
    if kind == "event":
        return error["msg"]
    if kind == "missing":
        return f"{field} is required"
    if kind == "extra_forbidden":
        return f"unknown field {field[:40]!r}"
    return _REASONS.get(f"{field}/{kind}") or _REASONS.get(field) or f"{field} is not valid"


def duration_cap_ms(duration_sec: float | None, rules: Royalties) -> int:
    """The most a session of a track of this duration can be credited (floor, as the SQL computes it)."""
    if not duration_sec or duration_sec <= 0:
        return NO_CAP
    return math.floor(duration_sec * rules.duration_factor * 1000)


def parse_event(raw: object) -> ParsedEvent:
    """Check an event's shape and values that need no database; raise Rejected with the reason."""
    if not isinstance(raw, dict):
        raise Rejected("an event must be a JSON object")
    unknown = raw.keys() - _FIELDS  # first, and by hand: pydantic cannot name a key that is not UTF-8
    if unknown:
        raise Rejected(f"unknown field {str(min(unknown, key=repr))[:40]!r}")
    try:
        e = _EventSchema.model_validate(raw)
    except ValidationError as exc:
        raise Rejected(_reason(exc.errors(include_url=False, include_input=False)[0])) from None
    seconds = e.seconds_played or 0.0
    return ParsedEvent(
        event_id=e.id,
        session_id=e.session_id,
        kind=e.kind,
        occurred_ms=e.occurred_at,
        position_ms=e.position_ms,
        seconds_played=seconds,
        played_ms=round(seconds * 1000),
        quality=e.quality,
        playback_rate=e.playback_rate,
        track_id=e.track_id,
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
