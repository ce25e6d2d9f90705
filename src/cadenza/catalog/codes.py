"""Industry identifiers (ISRC, ISO 3901; UPC/EAN) and track numbers, validated and normalised.

Everything here is read from ASCII only. `str.isdigit` is true for '²' (which `int` then refuses: a crash)
and for Arabic-Indic digits (which `int` reads, so a code of non-ASCII digits was stored), `\\s` matches
every Unicode blank and `str.upper` turns some non-ASCII letters into ASCII ones ('ﬀ' → 'FF')."""

from __future__ import annotations

import re

from cadenza.errors import InvalidInput

# CC-XXX-YY-NNNNN: country code, registrant (alphanumeric), year, designation.
_ISRC = re.compile(r"[A-Z]{2}[A-Z0-9]{3}[0-9]{2}[0-9]{5}")
_SEPARATORS = re.compile(r"[\s\-]", re.ASCII)
_DIGITS = re.compile(r"[0-9]+")
TRACK_NUMBERS = range(1, 10_000)  # what a release has room for (and tracks.track_number holds)


def _shown(value: str) -> str:
    """The value as a reason quotes it: repr (escapes NUL, lone surrogates), cut short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def normalize_isrc(value: str | None) -> str | None:
    """ISRC without hyphens or spaces, upper case; None stays None; a malformed code is rejected."""
    if value is None or not value.strip():
        return None
    code = _SEPARATORS.sub("", value).upper() if value.isascii() else ""
    if not _ISRC.fullmatch(code):
        raise InvalidInput(f"ISRC {_shown(value)} is not valid (expected CC-XXX-YY-NNNNN, e.g. USRC17607839)")
    return code


def normalize_upc(value: str | None) -> str | None:
    """A UPC-A/EAN-13/GTIN-14 code with a correct check digit, digits only."""
    if value is None or not value.strip():
        return None
    digits = _SEPARATORS.sub("", value) if value.isascii() else ""
    if not _DIGITS.fullmatch(digits) or not 12 <= len(digits) <= 14:
        raise InvalidInput(f"UPC {_shown(value)} must have 12 to 14 digits")
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    if (10 - total % 10) % 10 != check:
        raise InvalidInput(f"UPC {_shown(value)} has a wrong check digit")
    return digits


def parse_track_number(value: str) -> int:
    """A track number written in ASCII digits, 1 to 9999 (checked by length first: no 4,300-digit int)."""
    text = value.strip()
    if not _DIGITS.fullmatch(text) or len(text.lstrip("0")) > 4 or int(text) not in TRACK_NUMBERS:
        raise InvalidInput(
            f"track_number must be a whole number from {TRACK_NUMBERS.start} to {TRACK_NUMBERS.stop - 1}"
        )
    return int(text)
