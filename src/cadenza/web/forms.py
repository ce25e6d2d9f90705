"""Form fields of an upload (`POST /api/tracks`, multipart) read into the metadata that overrides the
file's tags. Every field is refused on its own with a reason that names it (InvalidInput: a 422): text
under the rule of `web.validation` (no NUL, no lone surrogate, one line), within its column's length;
codes through `catalog.codes`; numbers and dates in ASCII digits and within bounds."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date

from cadenza.catalog import codes
from cadenza.catalog.service import TrackMetadata
from cadenza.errors import InvalidInput
from cadenza.web.validation import NAME_LENGTH, check_text

# Longest value per field: the catalog's columns (title, artist and release names 500, genre 100);
# codes are short, so anything past 64 characters is refused before it is parsed.
LIMITS: dict[str, int] = {
    "title": NAME_LENGTH,
    "artist": NAME_LENGTH,
    "album": NAME_LENGTH,
    "release": NAME_LENGTH,
    "genre": 100,
    "isrc": 64,
    "upc": 64,
    "track_number": 64,
    "release_date": 64,
}
MAX_ARTISTS = 100  # credited artists per track: more is a form gone wrong, not a real credit list
RELEASE_YEARS = range(1800, 2200)  # older than any recording, later than any planned release
_DATE = re.compile(r"(?P<y>[0-9]{4})-(?P<m>[0-9]{2})-(?P<d>[0-9]{2})")


def _values(fields: Mapping[str, Sequence[str]], name: str) -> list[str]:
    """The field's values, each checked against the text rule and the field's length, stripped."""
    out: list[str] = []
    for raw in fields.get(name, ()):
        if not isinstance(raw, str):
            raise InvalidInput(f"{name} must be text")
        value = raw.strip()
        check_text(value, field=name, max_length=LIMITS[name])
        if value:
            out.append(value)
    return out


def release_date(text: str) -> date:
    """A release date written `YYYY-MM-DD` in ASCII digits, in a year of RELEASE_YEARS.

    `date.fromisoformat` also reads `20261126` and week dates (`2026-W48-4`), and year 1 or 9999."""
    m = _DATE.fullmatch(text)
    if m is None:
        raise InvalidInput("release_date must be a date like 2026-11-26")
    if int(m["y"]) not in RELEASE_YEARS:
        first, last = RELEASE_YEARS.start, RELEASE_YEARS.stop - 1
        raise InvalidInput(f"release_date must be in the years {first} to {last}")
    try:
        return date(int(m["y"]), int(m["m"]), int(m["d"]))
    except ValueError:
        raise InvalidInput(f"release_date {text} is not a day of the calendar") from None


def overrides_from_form(fields: Mapping[str, Sequence[str]]) -> TrackMetadata:
    """Form fields that override the file's tags; a malformed value is refused with a reason naming it.

    Fields: title, artist (repeated, or several separated by `;`), album (or release), genre, isrc, upc,
    track_number, release_date. Other fields are ignored (they are not read, so they cannot hurt)."""
    values = {name: _values(fields, name) for name in LIMITS}  # every field read is checked, used or not

    def one(name: str) -> str | None:
        return values[name][0] if values[name] else None

    artists = [a.strip() for v in values["artist"] for a in v.split(";") if a.strip()]
    if len(artists) > MAX_ARTISTS:
        raise InvalidInput(f"artist names more than {MAX_ARTISTS} artists")
    number, released, isrc, upc = one("track_number"), one("release_date"), one("isrc"), one("upc")
    return TrackMetadata(
        title=one("title"),
        artists=artists,
        release_title=one("release") or one("album"),
        release_date=release_date(released) if released else None,
        upc=codes.normalize_upc(upc),
        genre=one("genre"),
        track_number=codes.parse_track_number(number) if number else None,
        isrc=codes.normalize_isrc(isrc),
    )
