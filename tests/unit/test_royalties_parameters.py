"""Report parameters from outside (HTTP query, CLI options): the pool, the currency and the period are
read from plain ASCII or refused with a reason that names them; nothing else escapes the parsers."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cadenza.errors import InvalidInput
from cadenza.royalties import money, service

CURRENCIES = ["EUR", "JPY", "KWD", "CLF"]
PLAIN = re.compile(r"[ \t\r\n]*[0-9]*(\.[0-9]*)?[ \t\r\n]*")


def _said(exc: InvalidInput) -> str:
    exc.reason.encode("utf-8")  # the reason itself is always sendable
    return exc.reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1e400", "not a number"), ("1e309", "not a number"), ("9" * 40, "at most 15 digits"),
        ("1" + "0" * 10**4, "at most 15 digits"), ("NaN", "not a number"), ("sNaN", "not a number"),
        ("Infinity", "not a number"), ("-Infinity", "not a number"), ("-0", "at least 0"),
        ("-5", "at least 0"), ("+5", "not a number"), ("0.001", "2 decimal places"),
        ("10.000", "2 decimal places"), ("\u00b2", "not a number"), ("\u0663", "not a number"),
        ("1\u0663", "not a number"), ("1_000", "not a number"), ("1 000", "not a number"),
        ("1,50", "not a number"), ("\u00a0100", "not a number"), ("", "not a number"), (".", "not a number"),
        ("\x00", "not a number"), ("\ud800", "not a number"), ("0x10", "not a number"),
    ],
)  # fmt: skip
def test_a_pool_that_is_not_plain_digits_is_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason) as exc:
        money.parse_amount(text, "EUR")
    assert len(_said(exc.value)) < 120


def test_a_plain_pool_is_read_exactly() -> None:
    assert money.parse_amount(" 10000 ", "EUR") == Decimal("10000.00")
    assert str(money.parse_amount("0.5", "EUR")) == "0.50"
    assert str(money.parse_amount(".5", "EUR")) == "0.50"
    assert str(money.parse_amount("10.", "JPY")) == "10"
    assert str(money.parse_amount("999999999999999.999", "KWD")) == "999999999999999.999"
    assert str(money.parse_amount("00000000000000000000001", "EUR")) == "1.00"  # leading zeros are no size


@given(st.text(), st.sampled_from(CURRENCIES))
@settings(max_examples=500)
def test_any_text_is_a_pool_or_refused(text: str, currency: str) -> None:
    try:
        amount = money.parse_amount(text, currency)
    except InvalidInput as exc:
        _said(exc)
        return
    assert PLAIN.fullmatch(text)  # only plain ASCII digits get through
    assert amount.is_finite() and not amount.is_signed() and amount < 10**15
    assert amount.as_tuple().exponent == -money.exponent(currency)
    assert amount == Decimal(text.strip(" \t\r\n"))  # exactly what was typed


@given(st.from_regex(r"[0-9]{1,15}(\.[0-9]{0,2})?", fullmatch=True))
def test_every_plain_amount_within_bounds_is_accepted(text: str) -> None:
    assert money.parse_amount(text, "EUR") == Decimal(text)


@given(st.decimals(allow_nan=True, allow_infinity=True), st.sampled_from(CURRENCIES))
@settings(max_examples=500)
def test_any_decimal_as_value_or_as_text_is_a_pool_or_refused(d: Decimal, currency: str) -> None:
    for value in (d, str(d)):
        try:
            amount = money.parse_amount(value, currency)
        except InvalidInput as exc:
            _said(exc)
            continue
        assert amount == d and amount < 10**15 and not amount.is_signed()
        assert amount.as_tuple().exponent == -money.exponent(currency)
        # The split of any accepted pool adds up exactly (no precision lost in minor units).
        units = money.to_units(amount, currency)
        assert money.from_units(units, currency) == amount
        assert sum(money.largest_remainder(units, [1, 2, 3])) == units


@given(st.text())
@settings(max_examples=300)
def test_any_text_is_a_currency_code_or_refused(text: str) -> None:
    try:
        code = money.currency_code(text)
    except InvalidInput as exc:
        assert "currency" in _said(exc)
        return
    assert re.fullmatch(r"[A-Z]{3}", code) and text.isascii()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2026-13", "month must be 01 to 12"), ("2026-00", "month must be 01 to 12"),
        ("0000-01", "year must be 0001 to 9998"), ("9999-12", "year must be 0001 to 9998"),
        ("9999-12-32", "year must be 0001 to 9998"), ("2026-02-30", "has no day 30"),
        ("2026-11-00", "has no day 00"), ("\u0662\u0660\u0662\u0666-\u0661\u0661", "is not a month"),
        ("\uff12\uff10\uff12\uff16-11", "is not a month"), ("2026-1\u00b9", "is not a month"),
        ("2026-11-05T00:00", "is not a month"), ("202611", "is not a month"), ("2026-W45", "is not a month"),
        ("2026-11\x00", "is not a month"), ("\ud800", "is not a month"), ("+2026-11", "is not a month"),
    ],
)  # fmt: skip
def test_a_period_that_is_not_a_calendar_month_or_day_is_refused(text: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason) as exc:
        service.parse_period(text, allow_day=True)
    assert "period" in _said(exc.value)


@given(st.text())
@settings(max_examples=500)
def test_any_text_is_a_period_or_refused(text: str) -> None:
    for allow_day in (False, True):
        try:
            period = service.parse_period(text, allow_day=allow_day)
        except InvalidInput as exc:
            assert "period" in _said(exc)
            continue
        assert re.fullmatch(r"[0-9]{4}-[0-9]{2}(-[0-9]{2})?", period.label)
        period.label.encode("latin-1")  # it goes into a Content-Disposition header
        assert period.start < period.end


@given(st.dates(min_value=date(1, 1, 1), max_value=date(9998, 12, 31)))
def test_every_month_and_day_from_year_1_to_9998_is_a_period(d: date) -> None:
    month = service.parse_period(f"{d.year:04d}-{d.month:02d}")
    assert month.start == d.replace(day=1) and month.end == (month.start + timedelta(days=31)).replace(day=1)
    day = service.parse_period(d.isoformat(), allow_day=True)
    assert (day.start, day.end) == (d, d + timedelta(days=1))


def test_a_report_request_names_the_parameter_it_refuses() -> None:
    ok = service.ReportRequest.parse(period="2026-11", territory="de", pool="1000", currency="eur")
    assert (ok.period.label, ok.territory, ok.pool, ok.currency) == (
        "2026-11",
        "DE",
        Decimal("1000.00"),
        "EUR",
    )
    good = {"period": "2026-11", "territory": "DE", "pool": "1", "currency": "EUR"}
    for field, value in [
        ("period", "2026-13"),
        ("pool", "1e400"),
        ("currency", "\ufb00x"),
        ("territory", "\x00"),
    ]:
        with pytest.raises(InvalidInput, match=field):
            service.ReportRequest.parse(**{**good, field: value})
