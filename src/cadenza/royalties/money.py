"""Money: amounts in a currency's minor units, and exact division of a sum by largest remainders."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

from cadenza.errors import InvalidInput

# ISO 4217 currencies whose minor unit is not the cent; every other code has two decimals.
_EXPONENTS = {
    **dict.fromkeys(
        ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV",
         "XAF", "XOF", "XPF"], 0),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    "CLF": 4,
    "UYW": 4,
}  # fmt: skip
_CODE = re.compile(r"[A-Z]{3}")
_AMOUNT = re.compile(r"(?P<sign>-?)(?P<units>[0-9]*)(?:\.(?P<decimals>[0-9]*))?")
_BLANKS = " \t\r\n"
MAX_DIGITS = 15
_LIMIT = Decimal(10) ** MAX_DIGITS


def currency_code(value: str) -> str:
    """An ISO 4217 code in upper case. ASCII only: `str.upper` turns some other letters into ASCII ones
    (the ligature 'ﬀ' becomes 'FF')."""
    code = value.strip().upper() if isinstance(value, str) and value.isascii() else ""
    if not _CODE.fullmatch(code):
        raise InvalidInput(f"currency {shown(value)} is not an ISO 4217 code such as EUR")
    return code


def exponent(currency: str) -> int:
    """Decimal places of the currency's minor unit (EUR 2, JPY 0, KWD 3)."""
    return _EXPONENTS.get(currency, 2)


def parse_amount(value: str | Decimal | int, currency: str, *, what: str = "pool") -> Decimal:
    """A non-negative amount with no more precision than the currency's minor unit, at that precision.

    Text is ASCII digits with an optional decimal point (`10000`, `10000.00`), blanks around it allowed:
    `Decimal` would also read exponents (`1e400`, whose quantizing raised InvalidOperation), `NaN`,
    `Infinity`, underscores and Unicode digits (`٣` is 3), none of which anyone means as revenue. Written
    decimals beyond the minor unit are refused rather than rounded, even zeros: the pool is exactly what
    was typed. At most MAX_DIGITS digits before the point keep every amount, share and sum exact within
    Decimal's default 28 digits."""
    places = exponent(currency)
    unit = Decimal(1).scaleb(-places)
    if isinstance(value, str):
        m = _AMOUNT.fullmatch(value.strip(_BLANKS))
        if m is None or not (m["units"] or m["decimals"]):
            raise InvalidInput(
                f"{what} {shown(value)} is not a number: write digits with an optional decimal point, "
                "e.g. 10000.00"
            )
        if m["sign"]:
            raise InvalidInput(f"the {what} must be a finite amount of at least 0")
        if len(m["units"].lstrip("0")) > MAX_DIGITS:
            raise InvalidInput(f"the {what} may have at most {MAX_DIGITS} digits before the decimal point")
        amount = Decimal(f"{m['units'] or 0}.{m['decimals'] or 0}")
        exact = len(m["decimals"] or "") <= places
    elif isinstance(value, Decimal | int) and not isinstance(value, bool):
        amount = Decimal(value)
        if not amount.is_finite() or amount.is_signed():
            raise InvalidInput(f"the {what} must be a finite amount of at least 0")
        exact = amount >= _LIMIT or amount.quantize(unit) == amount  # (below the limit: no overflow)
    else:
        raise InvalidInput(f"the {what} must be an amount such as 10000.00")
    if amount >= _LIMIT:
        raise InvalidInput(f"the {what} may have at most {MAX_DIGITS} digits before the decimal point")
    if not exact:
        raise InvalidInput(f"{currency} amounts have {places} decimal places at most")
    return amount.quantize(unit)


def shown(value: object) -> str:
    """A value as a reason quotes it: its repr (which escapes NUL and lone surrogates), cut short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def to_units(amount: Decimal, currency: str) -> int:
    return int(amount.scaleb(exponent(currency)))


def from_units(units: int, currency: str) -> Decimal:
    return Decimal(units).scaleb(-exponent(currency)).quantize(Decimal(1).scaleb(-exponent(currency)))


def largest_remainder(total_units: int, weights: Sequence[Fraction | int]) -> list[int]:
    """Split `total_units` in proportion to `weights`: each part is its exact share rounded down, and the
    units left over go one each to the parts with the largest remainders (ties: the earlier part). The
    parts always add up to `total_units` exactly."""
    weight_sum = sum((Fraction(w) for w in weights), Fraction(0))
    if any(Fraction(w) < 0 for w in weights):
        raise ValueError("weights cannot be negative")
    if weight_sum == 0:
        raise ValueError("at least one weight must be positive")
    exact = [Fraction(total_units) * Fraction(w) / weight_sum for w in weights]
    parts = [e.numerator // e.denominator for e in exact]
    left = total_units - sum(parts)
    by_remainder = sorted(range(len(exact)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in by_remainder[:left]:
        parts[i] += 1
    return parts
