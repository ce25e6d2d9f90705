"""Lyrics on both databases: read from the upload's tags at validate (ID3 SYLT, an LRC text in a FLAC
`LYRICS` comment), attached as an `.lrc` through the API (admin), served to whoever may see the track."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from mutagen.flac import FLAC
from mutagen.id3 import ID3, SYLT, USLT
from sqlalchemy import Engine

from audio import make_audio
from cadenza.bootstrap import App, build_collaborators
from cadenza.catalog.models import Track
from cadenza.db.engine import transaction
from cadenza.ingest import pipeline
from cadenza.ingest.service import accept_upload
from cadenza.web.api.lyrics import MAX_LRC_BYTES
from cadenza.web.app import create_app
from conftest import IdleRunner, InlineRunner, create_user, make_settings


@pytest.fixture
def c(engine: Engine, db: tuple[Engine, str], tmp_path: Path) -> pipeline.Collaborators:
    return build_collaborators(make_settings(tmp_path / "data", db[1]), engine=engine, run_migrations=False)


@pytest.fixture
def world(c: pipeline.Collaborators, tmp_path: Path) -> Iterator[dict]:
    mp3 = make_audio(tmp_path / "sylt.mp3", duration=4, seed=1)
    tags = ID3()
    tags.add(SYLT(encoding=3, lang="eng", format=2, type=1, text=[("Hello", 500), ("world", 1800)]))
    tags.add(USLT(encoding=3, lang="eng", text="Hello\nworld"))
    tags.save(mp3)
    flac = make_audio(tmp_path / "lrc.flac", duration=4, seed=2)
    f = FLAC(flac)
    f["LYRICS"] = "[la:de]\n[00:01.00]Eins\n[00:02.50]Zwei\n"
    f.save()
    plain = make_audio(tmp_path / "plain.flac", duration=4, seed=3)
    ids = {
        name: accept_upload(c, InlineRunner(c), path=p, filename=p.name).id
        for name, p in (("sylt", mp3), ("lrc", flac), ("plain", plain))
    }
    tokens = {
        "fan": create_user(c.sessions, email="fan@example.org"),
        "admin": create_user(c.sessions, email="boss@example.org", role="admin"),
    }
    with TestClient(create_app(c.settings, wired=App(c=c, runner=IdleRunner()))) as client:
        yield {"client": client, "ids": ids, **tokens, "c": c}


def _get(w: dict, track: str, who: str = "fan"):  # type: ignore[no-untyped-def]
    auth = {"Authorization": f"Bearer {w[who]}"}
    return w["client"].get(f"/api/tracks/{w['ids'][track]}/lyrics", headers=auth)


def _put(w: dict, track: str, body: bytes, who: str = "admin"):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {w[who]}", "content-type": "text/plain"}
    return w["client"].put(f"/api/tracks/{w['ids'][track]}/lyrics", content=body, headers=headers)


def test_embedded_sylt_and_lrc_tags_become_synced_lines(world: dict) -> None:
    sylt = _get(world, "sylt").json()
    assert sylt["source"] == "embedded" and sylt["synced"] and sylt["language"] == "eng"
    assert sylt["lines"] == [{"start_ms": 500, "text": "Hello"}, {"start_ms": 1800, "text": "world"}]
    flac = _get(world, "lrc").json()
    assert flac["language"] == "de"
    assert flac["lines"] == [{"start_ms": 1000, "text": "Eins"}, {"start_ms": 2500, "text": "Zwei"}]
    none = _get(world, "plain").json()
    assert none["source"] == "none" and none["lines"] == []


def test_an_attached_lrc_replaces_and_survives_a_new_validate(world: dict) -> None:
    answer = _put(world, "sylt", b"[offset:100]\n[00:00.60][00:03.00]Hi <00:00.90>there\n")
    assert answer.status_code == 200, answer.text
    assert answer.json()["source"] == "lrc"
    lines = _get(world, "sylt").json()["lines"]
    assert lines == [{"start_ms": 500, "text": "Hi there"}, {"start_ms": 2900, "text": "Hi there"}]
    # validating the upload again (a reprocess) keeps the lyrics attached by hand
    c = world["c"]
    with transaction(c.sessions) as s:
        s.get(Track, world["ids"]["sylt"]).status = "processing"  # type: ignore[union-attr]
    pipeline.run_stage(c, world["ids"]["sylt"], "validate")
    assert _get(world, "sylt", who="admin").json()["lines"] == lines  # still processing: admins see it


def test_malformed_lrc_is_a_422_naming_the_line_and_changes_nothing(world: dict) -> None:
    before = _get(world, "lrc").json()
    bad = _put(world, "lrc", b"[00:01.00]ok\n[00:02.00]fine\nno stamp here\n")
    assert bad.status_code == 422
    assert "line 3" in bad.json()["reason"]
    assert _put(world, "lrc", b"[00:01.00]\xff\xfe").status_code == 422
    assert _put(world, "lrc", b"[00:01.00]x\n" * (MAX_LRC_BYTES // 10)).status_code == 413
    assert _get(world, "lrc").json() == before


def test_listeners_read_but_cannot_attach_and_unknown_tracks_are_404(world: dict) -> None:
    assert _put(world, "plain", b"[00:01.00]x", who="fan").status_code == 403
    auth = {"Authorization": f"Bearer {world['fan']}"}
    assert world["client"].get("/api/tracks/999999/lyrics", headers=auth).status_code == 404
    assert _put(world, "plain", b"[00:01.00]x").status_code == 200
