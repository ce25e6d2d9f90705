"""Codes and numbers read from outside text (ISRC, UPC, track numbers, Range headers, tag dates): ASCII
digits only, within bounds, and every refusal a reason; `str.isdigit` accepts '²' (which `int` refuses)
and Arabic-Indic digits (which `int` reads), so neither decides anything here."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cadenza.catalog import codes
from cadenza.delivery.ranges import parse_range
from cadenza.errors import InvalidInput
from cadenza.ingest import metadata

UNICODE_DIGITS = [
    "\u00b2",
    "\u0663",
    "\u06f3",
    "\u0967",
    "\uff13",
    "\U0001d7d1",
]  # superscript, Arabic-Indic, Persian, Devanagari, fullwidth, math bold


def _upc_with_check(body: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


@given(st.text())
@settings(max_examples=500)
def test_any_text_is_an_isrc_or_refused(text: str) -> None:
    try:
        code = codes.normalize_isrc(text)
    except InvalidInput as exc:
        assert "ISRC" in exc.reason and len(exc.reason) < 120
        exc.reason.encode("utf-8")
        return
    assert code is None or (re.fullmatch(r"[A-Z]{2}[A-Z0-9]{3}[0-9]{7}", code) and text.isascii())


@given(st.text())
@settings(max_examples=500)
def test_any_text_is_a_upc_or_refused(text: str) -> None:
    try:
        code = codes.normalize_upc(text)
    except InvalidInput as exc:
        assert "UPC" in exc.reason and len(exc.reason) < 120
        exc.reason.encode("utf-8")
        return
    assert code is None or (re.fullmatch(r"[0-9]{12,14}", code) and text.isascii())


@given(st.from_regex(r"[0-9]{11,13}", fullmatch=True))
def test_every_upc_with_its_check_digit_is_accepted(body: str) -> None:
    code = _upc_with_check(body)
    assert codes.normalize_upc(code) == code
    assert codes.normalize_upc(f" {code[:4]}-{code[4:]} ") == code


@pytest.mark.parametrize("digit", UNICODE_DIGITS)
def test_unicode_digits_are_not_codes(digit: str) -> None:
    upc = _upc_with_check("03600029145")
    with pytest.raises(InvalidInput, match="12 to 14 digits"):
        codes.normalize_upc(upc[:-2] + digit + upc[-1])  # '²' crashed int(); '٣' was stored as is
    with pytest.raises(InvalidInput, match="ISRC"):
        codes.normalize_isrc("USRC1760783" + digit)
    with pytest.raises(InvalidInput, match="track_number"):
        codes.parse_track_number("1" + digit)


def test_letters_that_upper_case_into_ascii_are_not_codes() -> None:
    with pytest.raises(InvalidInput, match="ISRC"):
        codes.normalize_isrc("\ufb00RC17607839")  # 'ﬀ'.upper() == 'FF'
    assert codes.normalize_isrc(" us-rc1-76-07839\n") == "USRC17607839"


@given(st.text())
@settings(max_examples=500)
def test_any_text_is_a_track_number_from_1_to_9999_or_refused(text: str) -> None:
    try:
        number = codes.parse_track_number(text)
    except InvalidInput as exc:
        assert "track_number" in exc.reason
        return
    assert 1 <= number <= 9999 and text.strip().isascii()


@pytest.mark.parametrize(
    ("text", "number"), [("1", 1), ("0009", 9), ("9999", 9999), (" 12 ", 12), ("0", None), ("10000", None),
                         ("-1", None), ("+1", None), ("1.0", None), ("1e3", None), (str(2**64), None),
                         ("9" * 5000, None), ("1_0", None), ("", None), ("\x00", None)],
)  # fmt: skip
def test_track_numbers(text: str, number: int | None) -> None:
    if number is None:
        with pytest.raises(InvalidInput, match="from 1 to 9999"):
            codes.parse_track_number(text)
    else:
        assert codes.parse_track_number(text) == number


@given(st.text(), st.integers(min_value=0, max_value=10**6))
@settings(max_examples=500)
def test_any_range_header_is_ranges_inside_the_file_or_ignored(header: str, size: int) -> None:
    ranges = parse_range(header, size)
    assert ranges is None or all(0 <= a <= b < size for a, b in ranges)


@given(st.from_regex(r"bytes=[0-9]{0,30}-[0-9]{0,30}(,[0-9]{0,30}-[0-9]{0,30}){0,3}", fullmatch=True))
def test_long_range_numbers_mean_what_they_write(header: str) -> None:
    """Positions beyond 64 bits are past any file: read exactly as if Python's ints had no limit."""
    size = 1000
    expected: list[tuple[int, int]] | None = []
    for part in header[len("bytes=") :].split(","):
        first, _, last = part.partition("-")
        if first == "" and last == "":
            expected = None
            break
        if first == "":
            if int(last) and expected is not None:
                expected.append((max(0, size - int(last)), size - 1))
            continue
        if last and int(last) < int(first):
            expected = None
            break
        if int(first) < size and expected is not None:
            expected.append((int(first), min(int(last) if last else size - 1, size - 1)))
    assert parse_range(header, size) == expected


@pytest.mark.parametrize("digit", UNICODE_DIGITS)
def test_a_range_of_unicode_digits_is_ignored(digit: str) -> None:
    assert parse_range(f"bytes={digit}-", 100) is None  # int('²') raised ValueError: a 500
    assert parse_range(f"bytes=0-{digit}", 100) is None
    assert parse_range("bytes=0-" + "9" * 5000, 100) == [(0, 99)]  # int() refuses > 4300 digits


def test_tag_dates_and_numbers_are_read_in_ascii_only() -> None:
    assert metadata._date("2026-11-05") is not None
    assert metadata._date("\u0662\u0660\u0662\u0666-11-05") is None
