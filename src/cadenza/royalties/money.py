"""Money: amounts in a currency's minor units, and exact division of a sum by largest remainders."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
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
_CODE = re.compile(r"^[A-Z]{3}$")


def currency_code(value: str) -> str:
    code = value.strip().upper()
    if not _CODE.match(code):
        raise InvalidInput(f"currency {value!r} is not an ISO 4217 code such as EUR")
    return code


def exponent(currency: str) -> int:
    """Decimal places of the currency's minor unit (EUR 2, JPY 0, KWD 3)."""
    return _EXPONENTS.get(currency, 2)


def parse_amount(value: str | Decimal | int, currency: str) -> Decimal:
    """A non-negative amount with no more precision than the currency's minor unit, at that precision."""
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidInput(f"amount {value!r} is not a number") from None
    if not amount.is_finite() or amount < 0:
        raise InvalidInput("the pool must be a finite amount of at least 0")
    unit = Decimal(1).scaleb(-exponent(currency))
    quantized = amount.quantize(unit)
    if quantized != amount:
        raise InvalidInput(f"{currency} amounts have {exponent(currency)} decimal places at most")
    return quantized


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
