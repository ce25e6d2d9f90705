"""The text rule of the HTTP edge: NUL, lone surrogates and C0 control characters are refused wherever
text comes in (pydantic fields, query/path/form values), under the field's name; anything else is text."""

from __future__ import annotations

import json
from typing import Annotated

import pytest
from fastapi import FastAPI, Query
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from cadenza.errors import InvalidInput
from cadenza.web.validation import Name, Text, check_text, text_problem, text_type


def _expected_bad(value: str, *, free_text: bool) -> bool:
    allowed = "\t\n\r" if free_text else ""
    return any((ord(c) < 32 and c not in allowed) or 0xD800 <= ord(c) <= 0xDFFF for c in value)


@given(st.text(), st.booleans())
@settings(max_examples=1000)
def test_text_is_refused_exactly_for_nul_surrogates_and_control_characters(value: str, free: bool) -> None:
    problem = text_problem(value, free_text=free)
    assert (problem is not None) == _expected_bad(value, free_text=free)
    if problem is None:
        value.encode("utf-8")  # what passes can be stored, logged and sent back
    else:
        problem.encode("utf-8")


@given(st.text(st.characters(codec="utf-8", exclude_categories=["Cc"])))
def test_ordinary_text_in_any_script_passes(value: str) -> None:
    assert text_problem(value) is None


@pytest.mark.parametrize(
    ("value", "free", "phrase"),
    [
        ("a\x00b", True, "NUL"), ("\x00", False, "NUL"), ("\ud800", False, "UTF-8"),
        ("x\udfffy", True, "UTF-8"),
        ("a\x07", False, "U+0007"), ("a\x1b[31m", True, "U+001B"), ("line\nbreak", False, "U+000A"),
        ("tab\there", False, "U+0009"), ("cr\r", False, "U+000D"),
    ],
)  # fmt: skip
def test_each_problem_is_said_plainly(value: str, free: bool, phrase: str) -> None:
    problem = text_problem(value, free_text=free)
    assert problem is not None and phrase in problem


def test_free_text_keeps_its_lines_and_tabs() -> None:
    assert text_problem("first line\r\n\tsecond line", free_text=True) is None


class Track(BaseModel):
    title: Name
    notes: Text | None = None
    genre: text_type(100) | None = None  # type: ignore[valid-type]


@pytest.mark.parametrize(
    ("data", "field", "phrase"),
    [
        ({"title": "a\x00"}, "title", "NUL"), ({"title": "\ud800"}, "title", "UTF-8"),
        ({"title": "two\nlines"}, "title", "U+000A"), ({"title": "  "}, "title", "at least 1"),
        ({"title": "x" * 501}, "title", "at most 500"), ({"title": "ok", "notes": "a\x00"}, "notes", "NUL"),
        ({"title": "ok", "genre": "g\x01"}, "genre", "U+0001"),
        ({"title": "ok", "genre": "g" * 101}, "genre", "100"), ({"title": 5}, "title", "valid string"),
    ],
)  # fmt: skip
def test_pydantic_reports_the_problem_under_the_field(data: dict[str, str], field: str, phrase: str) -> None:
    with pytest.raises(ValidationError) as exc:
        Track.model_validate(data)
    (error,) = exc.value.errors()
    assert error["loc"] == (field,) and phrase in error["msg"]


def test_json_escapes_for_nul_and_surrogates_are_refused_too() -> None:
    for escaped in ("a\\u0000b", "\\ud800", "x\\udfff"):
        # FastAPI reads a body with json.loads (which decodes both escapes), then validates it.
        with pytest.raises(ValidationError) as exc:
            Track.model_validate(json.loads(f'{{"title": "{escaped}"}}'))
        assert exc.value.errors()[0]["loc"] == ("title",)
        with pytest.raises(ValidationError):  # pydantic's own JSON reader refuses a lone surrogate outright
            Track.model_validate_json(f'{{"title": "{escaped}"}}')
    kept = Track.model_validate({"title": "  Für Elise \u2014 \U0001f3b5 ", "notes": "a\n\tb"})
    assert kept.title == "Für Elise \u2014 \U0001f3b5" and kept.notes == "a\n\tb"


def test_in_an_api_the_422_names_the_field() -> None:
    app = FastAPI()

    @app.post("/tracks")
    def create(track: Track, q: Annotated[Name, Query()]) -> dict[str, str]:
        return {"title": track.title, "q": q}

    client = TestClient(app)
    assert client.post("/tracks", params={"q": "ok"}, json={"title": "fine"}).status_code == 200
    # (Not a lone surrogate here: FastAPI's default 422 echoes the input, which cannot be encoded; the
    # app's own handler sends only the location and the message.)
    json_body = {"content-type": "application/json"}
    body = client.post("/tracks", params={"q": "ok"}, content=b'{"title": "a\\u0000"}', headers=json_body)
    assert body.status_code == 422 and body.json()["detail"][0]["loc"] == ["body", "title"]
    query = client.post("/tracks", params={"q": "bad\x01"}, json={"title": "fine"})
    assert query.status_code == 422 and query.json()["detail"][0]["loc"] == ["query", "q"]


def test_check_text_names_the_field() -> None:
    assert check_text("fine", field="q", max_length=10) == "fine"
    for value, kwargs, phrase in [
        ("a\x00", {}, "q contains a NUL character"),
        ("\ud800", {}, "q is not valid UTF-8"),
        ("x" * 11, {"max_length": 10}, "q is longer than 10 characters"),
        ("", {"min_length": 1}, "q is empty"),
        ("a\tb", {}, "q contains a control character (U+0009)"),
    ]:
        with pytest.raises(InvalidInput) as exc:
            check_text(value, field="q", **kwargs)  # type: ignore[arg-type]
        assert exc.value.reason.startswith(phrase)
    assert check_text("a\tb", field="notes", free_text=True) == "a\tb"
