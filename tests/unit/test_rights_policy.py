"""Territory codes: ISO 3166-1 alpha-2 as typed in ASCII, nothing that only upper-cases into one."""

# ruff: noqa: RUF001 (look-alike letters, on purpose)

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cadenza.errors import InvalidInput
from cadenza.rights.policy import normalize_territory


@pytest.mark.parametrize(("value", "code"), [("de", "DE"), (" FR ", "FR"), (None, None)])
def test_codes_are_normalised(value: str | None, code: str | None) -> None:
    assert normalize_territory(value) == code


@pytest.mark.parametrize("value", ["ﬀ", "Ｄｅ", "D", "DEU", "D1", "\x00D", "ßs", ""])
def test_anything_else_is_refused_with_its_reason(value: str) -> None:
    with pytest.raises(InvalidInput, match="ISO 3166-1 alpha-2"):
        normalize_territory(value)


@given(st.text(max_size=6))
def test_any_text_is_a_two_letter_ascii_code_or_refused(value: str) -> None:
    try:
        code = normalize_territory(value)
    except InvalidInput:
        return
    assert code is not None and len(code) == 2 and code.isascii() and code.isalpha() and code.isupper()
