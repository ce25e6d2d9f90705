"""Industry identifiers: ISRC (ISO 3901) and UPC/EAN, validated and normalised."""

from __future__ import annotations

import re

from cadenza.errors import InvalidInput

# CC-XXX-YY-NNNNN: country code, registrant (alphanumeric), year, designation.
_ISRC = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}[0-9]{2}[0-9]{5}$")


def normalize_isrc(value: str | None) -> str | None:
    """ISRC without hyphens or spaces, upper case; None stays None; a malformed code is rejected."""
    if value is None or not value.strip():
        return None
    code = re.sub(r"[\s\-]", "", value).upper()
    if not _ISRC.match(code):
        raise InvalidInput(f"ISRC {value!r} is not valid (expected CC-XXX-YY-NNNNN, e.g. USRC17607839)")
    return code


def normalize_upc(value: str | None) -> str | None:
    """A UPC-A/EAN-13/GTIN-14 code with a correct check digit, digits only."""
    if value is None or not value.strip():
        return None
    digits = re.sub(r"[\s\-]", "", value)
    if not digits.isdigit() or not 12 <= len(digits) <= 14:
        raise InvalidInput(f"UPC {value!r} must have 12 to 14 digits")
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    if (10 - total % 10) % 10 != check:
        raise InvalidInput(f"UPC {value!r} has a wrong check digit")
    return digits
