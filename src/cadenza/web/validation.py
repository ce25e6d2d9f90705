"""The rule for every text that comes in over HTTP, in one place: bodies (pydantic models), query and path
parameters, form fields.

Refused, with the field named:
- NUL: PostgreSQL refuses it in text (psycopg raises DataError, which was answered as a 503), and C code
  that gets the string (ffmpeg, taggers, log tooling) stops reading there;
- lone surrogates (`\\ud800`, which JSON's `\\ud800` escape and `surrogateescape` decoding both produce): no
  UTF-8 encoder takes them, so the database driver, the JSON response or a log line raised
  UnicodeEncodeError (a 500);
- other C0 control characters (U+0001..U+001F): invisible, they make two names look equal and break
  single-line formats (CSV, headers, logs). Free text keeps tab, newline and carriage return.

`cadenza.text.text_problem` is the pure rule (the domain scrubs text read from files by it too);
`Text`, `Name` and `text_type` apply it to pydantic fields (the error is reported under the field's
location, so the app's 422 names it); `check_text` applies it to a value read by hand (query, path,
form) and raises InvalidInput naming the field.

For a query or path parameter, put the type inside the Annotated, `q: Annotated[Name, Query()]`: with
FastAPI 0.165 the default-value spelling `q: Name = Query()` silently drops the type's validators."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, StringConstraints
from pydantic_core import PydanticCustomError

from cadenza.errors import InvalidInput
from cadenza.text import text_problem

NAME_LENGTH = 500
TEXT_LENGTH = 10_000


def check_text(
    value: str,
    *,
    field: str,
    max_length: int | None = None,
    min_length: int = 0,
    free_text: bool = False,
) -> str:
    """`value` if it is acceptable text of the allowed length; InvalidInput naming `field` otherwise."""
    problem = text_problem(value, free_text=free_text)
    if problem is None and max_length is not None and len(value) > max_length:
        problem = f"is longer than {max_length} characters"
    if problem is None and len(value) < min_length:
        problem = "is empty" if min_length == 1 else f"is shorter than {min_length} characters"
    if problem is not None:
        raise InvalidInput(f"{field} {problem}")
    return value


def _rule(*, free_text: bool, strip: bool) -> BeforeValidator:
    """The rule as a pydantic validator. It runs before pydantic's own string handling, which refuses a
    lone surrogate with a message about "raw data" instead of saying what is wrong; non-text input is
    left to pydantic's type check. Blanks that `strip` removes anyway are not held against the value."""

    def check(value: Any) -> Any:
        if isinstance(value, str):
            problem = text_problem(value.strip() if strip else value, free_text=free_text)
            if problem is not None:
                raise PydanticCustomError("text", "Value {problem}", {"problem": problem})
        return value

    return BeforeValidator(check)


def text_type(max_length: int, *, min_length: int = 0, free_text: bool = False, strip: bool = True) -> Any:
    """A pydantic string type under the text rule, e.g. `genre: text_type(100) | None = None`;
    `strip` removes surrounding blanks before the length counts."""
    constraints = StringConstraints(strip_whitespace=strip, min_length=min_length, max_length=max_length)
    return Annotated[str, constraints, _rule(free_text=free_text, strip=strip)]


# Free text (descriptions, comments): up to 10,000 characters, lines allowed.
Text = Annotated[str, StringConstraints(max_length=TEXT_LENGTH), _rule(free_text=True, strip=False)]
# A name or title: one line, surrounding blanks removed, 1 to 500 characters.
Name = text_type(NAME_LENGTH, min_length=1)
