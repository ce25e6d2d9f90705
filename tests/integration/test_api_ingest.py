"""Upload API: streamed multipart upload, status polling, clear errors for bad requests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from audio import make_audio
from cadenza.bootstrap import App, build_collaborators
from cadenza.ingest.runner import InProcessRunner
from cadenza.web.app import create_app
from conftest import create_user, make_settings


@pytest.fixture
def client(engine: Engine, db: tuple[Engine, str], tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(tmp_path / "data", db[1], limits={"max_upload_bytes": 3_000_000})
    c = build_collaborators(settings, engine=engine, run_migrations=False)
    runner = InProcessRunner(c, workers=2)
    token = create_user(c.sessions, email="admin@example.org", role="admin")
    with TestClient(create_app(settings, wired=App(c=c, runner=runner))) as tc:
        tc.headers["Authorization"] = f"Bearer {token}"
        yield tc
    runner.shutdown(wait=True)


def _wait(client: TestClient, track_id: int, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/tracks/{track_id}").json()
        if body["status"] != "processing":
            return body
        time.sleep(0.2)
    raise AssertionError(f"track {track_id} still processing")


def test_upload_then_ready(client: TestClient, tmp_path: Path) -> None:
    src = make_audio(tmp_path / "tune.flac", duration=8, seed=4)
    with src.open("rb") as fh:
        resp = client.post(
            "/api/tracks",
            files={"file": ("tune.flac", fh, "audio/flac")},
            data={"title": "Tune", "artist": "Ana; Bo", "genre": "Folk", "track_number": "3"},
        )
    assert resp.status_code == 202, resp.text
    created = resp.json()
    assert created["status"] == "processing"
    body = _wait(client, created["id"])
    assert body["status"] == "ready", body
    assert body["title"] == "Tune" and body["artists"] == ["Ana", "Bo"] and body["track_number"] == 3
    assert {v["quality"] for v in body["variants"]} >= {"aac_128", "aac_256", "aac_320", "mp3_320", "flac"}


def test_bad_file_reports_failure_reason(client: TestClient) -> None:
    resp = client.post("/api/tracks", files={"file": ("x.mp3", b"this is not audio at all", "audio/mpeg")})
    assert resp.status_code == 202
    body = _wait(client, resp.json()["id"])
    assert body["status"] == "failed" and body["stage"] == "validate" and body["failure_reason"]


def test_upload_over_the_limit_is_413_and_keeps_nothing(client: TestClient, tmp_path: Path) -> None:
    big = b"\0" * 3_500_000
    resp = client.post("/api/tracks", files={"file": ("big.wav", big, "audio/wav")})
    assert resp.status_code == 413 and resp.json()["error"] == "upload_rejected"
    uploads = tmp_path / "data" / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"isrc": "NOT-AN-ISRC"}, "ISRC"),
        ({"track_number": "two"}, "track_number"),
        ({"release_date": "yesterday"}, "release_date"),
        ({"title": "x" * 600}, "title"),
    ],
)
def test_bad_metadata_is_422_and_creates_nothing(client: TestClient, data: dict, needle: str) -> None:
    resp = client.post("/api/tracks", files={"file": ("a.flac", b"fLaC", "audio/flac")}, data=data)
    assert resp.status_code == 422, resp.text
    assert needle in resp.json()["reason"]
    assert client.get("/api/tracks").json() == []


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"data": {"title": "no file"}}, 415),
        ({"content": b"--x\r\n", "headers": {"content-type": "multipart/form-data; boundary=x"}}, 400),
        ({"json": {"file": "abc"}}, 415),
    ],
)
def test_malformed_requests_get_clear_errors(client: TestClient, kwargs: dict, status: int) -> None:
    resp = client.post("/api/tracks", **kwargs)
    assert resp.status_code in {status, 400}, resp.text
    assert resp.json()["reason"]


def test_unknown_track_is_404(client: TestClient) -> None:
    resp = client.get("/api/tracks/999999")
    assert resp.status_code == 404 and resp.json()["error"] == "not_found"
    assert client.get("/api/tracks/abc").status_code == 422


def test_upload_needs_an_admin(client: TestClient) -> None:
    anonymous = client.post(
        "/api/tracks", files={"file": ("a.flac", b"fLaC", "audio/flac")}, headers={"Authorization": ""}
    )
    assert anonymous.status_code == 401
    state = client.app.state.cadenza  # type: ignore[attr-defined]
    listener = create_user(state.c.sessions, email="fan@example.org")
    resp = client.post(
        "/api/tracks",
        files={"file": ("a.flac", b"fLaC", "audio/flac")},
        headers={"Authorization": f"Bearer {listener}"},
    )
    assert resp.status_code == 403 and resp.json()["error"] == "forbidden"
