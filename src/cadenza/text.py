"""The text rule, for every text that comes from outside (requests, tags of uploaded files): no NUL
(PostgreSQL refuses it), no lone surrogate (no UTF-8 encoder takes it), no other C0 control character
(free text keeps tab, newline and carriage return). The HTTP edge refuses such a value with the field
named (`web.validation`); text read from a file's tags is scrubbed instead (`scrub`), since refusing a
whole upload for an invisible character in a tag would lose the listener's music over nothing."""

from __future__ import annotations

import re

_LINE = re.compile("[\x00-\x1f\ud800-\udfff]")
_FREE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def text_problem(value: str, *, free_text: bool = False) -> str | None:
    """What makes `value` unacceptable as text, as a phrase to follow the field's name, or None.

    `free_text`: a description or comment, where tab, newline and carriage return are allowed; anything
    else (names, titles, codes, identifiers) is a single line."""
    if "\x00" in value:
        return "contains a NUL character"
    m = (_FREE if free_text else _LINE).search(value)
    if m is None:
        return None
    char = m.group()
    if "\ud800" <= char <= "\udfff":
        return "is not valid UTF-8 text (it holds a lone surrogate)"
    return f"contains a control character (U+{ord(char):04X})"


def scrub(value: str, *, free_text: bool = False) -> str:
    """`value` with what `text_problem` objects to removed (surrogates, NUL, control characters)."""
    return (_FREE if free_text else _LINE).sub("", value)
