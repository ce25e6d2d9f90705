# ruff: noqa: RUF001 (digits of other scripts, on purpose)
"""No endpoint answers 5xx to any input, on SQLite and on PostgreSQL: schemathesis generates requests from
the OpenAPI schema (every route the app serves, so a new surface is fuzzed the day it lands), and the
hooks below poison what it generates with the inputs that broke servers before: NUL and other control
characters, lone surrogates, digits that `isdigit()` accepts and `int()` refuses, very long strings, and
numbers beyond 64 bits. Every refusal must be a 4xx whose body names the reason."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st

from audio import make_audio
from cadenza.bootstrap import App, build_collaborators
from cadenza.db.engine import transaction
from cadenza.ingest.service import accept_upload
from cadenza.rights import service as rights
from cadenza.web.app import create_app
from conftest import InlineRunner, create_user, drop_schema, make_settings, make_test_engine

# Text that PostgreSQL cannot store, that no UTF-8 encoder takes, or that parsers misread.
_ENCODABLE = [
    "\x00",
    "a\x00b",
    "\x1b[31mred",
    "line\nbreak",
    "²",
    "٣٤",
    "１２",
    "𝟘𝟙",
    "\u202eevil",
    "x" * 70_000,
    "-0",
    "NaN",
    "Infinity",
    "1e309",
    str(2**64),
    "",
]
_SURROGATES = ["\ud800", "x\udfffy"]  # only a JSON body can carry these (as \ud800 escapes)
_BIG = [2**63, 2**64, -(2**63) - 1, 10**40, -1, 0]


def _poison(value: Any, *, json: bool) -> st.SearchStrategy[Any]:
    """`value` as generated, or with hostile text and numbers put in its leaves."""
    text = st.sampled_from(_ENCODABLE + (_SURROGATES if json else []))
    if isinstance(value, bool) or value is None:
        return st.just(value)
    if isinstance(value, str):
        return st.one_of(st.just(value), text, text.map(lambda h: value + h))
    if isinstance(value, int | float):
        return st.one_of(st.just(value), st.sampled_from(_BIG), text if not json else st.sampled_from(_BIG))
    if isinstance(value, dict):
        return st.fixed_dictionaries({k: _poison(v, json=json) for k, v in value.items()})
    if isinstance(value, list):
        return st.tuples(*(_poison(v, json=json) for v in value)).map(list)
    return st.just(value)


def _poisoner(is_json: bool):  # type: ignore[no-untyped-def]
    def hook(_ctx: schemathesis.HookContext, value: Any) -> st.SearchStrategy[Any]:
        return _poison(value, json=is_json)

    return hook


def _app(backend: str, tmp: Path):  # type: ignore[no-untyped-def]
    engine, url, schema = make_test_engine(backend, tmp)
    if schema:
        atexit.register(drop_schema, schema)
    c = build_collaborators(make_settings(tmp / "data", url), engine=engine, run_migrations=False)
    track = accept_upload(
        c, InlineRunner(c), path=make_audio(tmp / "a.flac", duration=4, seed=3), filename="a.flac"
    )
    with transaction(c.sessions) as s:
        rights.grant(s, track_id=track.id, right_type="stream")
    token = create_user(c.sessions, email="admin@example.org", role="admin", tier="hifi")
    app = create_app(c.settings, wired=App(c=c, runner=InlineRunner(c)))
    schema_ = schemathesis.openapi.from_asgi("/openapi.json", app)
    for container, is_json in [("body", True), ("query", False), ("path_parameters", False)]:
        schema_.hook(f"flatmap_{container}")(_poisoner(is_json))
    return schema_, token


_tmp = Path(tempfile.mkdtemp(prefix="cadenza-fuzz-"))
atexit.register(shutil.rmtree, _tmp, True)
SQLITE, SQLITE_TOKEN = _app("sqlite", _tmp / "sqlite")
POSTGRES, POSTGRES_TOKEN = _app("postgres", _tmp / "postgres")


def _check(case: schemathesis.Case, token: str) -> None:
    try:
        response = case.call(headers={"Authorization": f"Bearer {token}"})
    except UnicodeEncodeError:
        # A lone surrogate put in a multipart or form body: no client can encode it, so no server sees it
        # (in JSON it travels as a \ud800 escape, and those cases are sent).
        assume(False)
        return
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} → {response.status_code}: {response.text[:500]}"
    )
    if response.status_code >= 400 and case.method != "HEAD":  # a HEAD answer has no body to read
        body = response.json()
        assert body.get("error") and body.get("reason"), body


_SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))


@SQLITE.parametrize()
@_SETTINGS
def test_no_input_makes_a_5xx_on_sqlite(case: schemathesis.Case) -> None:
    _check(case, SQLITE_TOKEN)


@POSTGRES.parametrize()
@_SETTINGS
def test_no_input_makes_a_5xx_on_postgresql(case: schemathesis.Case) -> None:
    _check(case, POSTGRES_TOKEN)
