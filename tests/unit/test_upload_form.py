"""The upload form's fields: any dict of field name to values ends in track metadata whose every value is
acceptable text within its column, or in InvalidInput naming the field that was refused."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cadenza.catalog.service import TrackMetadata
from cadenza.errors import InvalidInput
from cadenza.web.forms import LIMITS, MAX_ARTISTS, overrides_from_form
from cadenza.web.validation import text_problem

KNOWN = list(LIMITS)
HOSTILE = [
    "", " ", "\x00", "a\x00b", "\ud800", "x\udfff", "a\x07", "two\nlines", "\u0663", "\u00b2", "0", "-1",
    "10000", str(2**64), "9" * 5000, "1_0", "2026-13-01", "0000-01-01", "10000-01-01", "2026-W48-4",
    "20261126", "2026-02-29", "x" * 501, "g" * 101, "USRC17607839", "036000291452", "\ufb00", ";;;",
]  # fmt: skip


def fields_strategy() -> st.SearchStrategy[dict[str, list[str]]]:
    values = st.lists(st.one_of(st.text(), st.sampled_from(HOSTILE)), max_size=3)
    names = st.one_of(st.sampled_from(KNOWN), st.text(max_size=10))
    return st.dictionaries(names, values, max_size=6)


def _check(meta: TrackMetadata) -> None:
    """What the form lets through is fit for the catalog's columns."""
    for name, value, limit in [("title", meta.title, 500), ("release", meta.release_title, 500),
                               ("genre", meta.genre, 100)]:  # fmt: skip
        if value is not None:
            assert value and text_problem(value) is None and len(value) <= limit, name
    assert len(meta.artists) <= MAX_ARTISTS
    assert all(a and text_problem(a) is None and len(a) <= 500 for a in meta.artists)
    assert meta.track_number is None or 1 <= meta.track_number <= 9999
    assert meta.release_date is None or 1800 <= meta.release_date.year <= 2199
    assert meta.isrc is None or (len(meta.isrc) == 12 and meta.isrc.isascii() and meta.isrc.isalnum())
    assert meta.upc is None or (12 <= len(meta.upc) <= 14 and meta.upc.isascii() and meta.upc.isdigit())


@given(fields_strategy())
@settings(max_examples=1000)
def test_any_form_is_metadata_or_refused_naming_a_field(fields: dict[str, list[str]]) -> None:
    try:
        meta = overrides_from_form(fields)
    except InvalidInput as exc:
        exc.reason.encode("utf-8")
        named = [n for n in KNOWN if n in fields and (n in exc.reason or n.upper() in exc.reason)]
        assert named, exc.reason
        return
    _check(meta)


@pytest.mark.parametrize("field", KNOWN)
@pytest.mark.parametrize("value", ["a\x00b", "\ud800", "x\x1by"], ids=["nul", "surrogate", "escape"])
def test_unusable_text_is_refused_in_every_field(field: str, value: str) -> None:
    with pytest.raises(InvalidInput, match=field):
        overrides_from_form({field: [value]})


@pytest.mark.parametrize(("field", "limit"), list(LIMITS.items()))
def test_each_field_has_a_length(field: str, limit: int) -> None:
    with pytest.raises(InvalidInput, match=f"{field} is longer than {limit} characters"):
        overrides_from_form({field: ["x" * (limit + 1)]})


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"track_number": ["\u00b2"]}, "track_number"),  # isdigit() said yes, int() raised: a 500
        ({"track_number": ["\u0663"]}, "track_number"),  # int() read it as 3
        ({"track_number": ["0"]}, "track_number"), ({"track_number": ["10000"]}, "track_number"),
        ({"track_number": [str(2**64)]}, "track_number"), ({"track_number": ["9" * 5000]}, "longer than 64"),
        ({"release_date": ["0001-01-01"]}, "years 1800 to 2199"), ({"release_date": ["9999-12-31"]}, "1800"),
        ({"release_date": ["2026-W48-4"]}, "like 2026-11-26"), ({"release_date": ["20261126"]}, "like"),
        ({"release_date": ["2026-02-30"]}, "not a day"),
        ({"release_date": ["\u0662\u0660\u0662\u0666-11-26"]}, "like 2026-11-26"),
        ({"isrc": ["USRC1760783\u0663"]}, "ISRC"), ({"upc": ["03600029145\u00b2"]}, "UPC"),
        ({"upc": ["036000291453"]}, "check digit"),
        ({"artist": [";".join(f"a{i}" for i in range(101))]}, "more than 100 artists"),
        ({"album": ["x\x00"], "release": ["fine"]}, "album"),  # checked though `release` wins
    ],
)  # fmt: skip
def test_numbers_dates_and_codes_are_ascii_and_bounded(fields: dict[str, list[str]], reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        overrides_from_form(fields)


def test_a_good_form_gives_the_metadata_it_says() -> None:
    meta = overrides_from_form(
        {
            "title": ["  Blue in Green "],
            "artist": ["Miles Davis; Bill Evans", "", "John Coltrane"],
            "album": ["Kind of Blue"],
            "genre": ["Jazz"],
            "isrc": ["us-rc1-76-07839"],
            "upc": ["0 36000 29145 2"],
            "track_number": [" 3 "],
            "release_date": ["1959-08-17"],
            "file": ["ignored"],
            "comment": ["\x00 not read, so not refused"],
        }
    )
    assert meta == TrackMetadata(
        title="Blue in Green",
        artists=["Miles Davis", "Bill Evans", "John Coltrane"],
        release_title="Kind of Blue",
        release_date=date(1959, 8, 17),
        upc="036000291452",
        genre="Jazz",
        track_number=3,
        isrc="USRC17607839",
    )
    assert overrides_from_form({}) == TrackMetadata()
    assert overrides_from_form({"title": ["", "  ", "Second"]}).title == "Second"
