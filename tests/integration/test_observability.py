"""Operations endpoints and metrics on both databases: /healthz, /readyz naming the part that fails,
/metrics behind its token, latency by route template, stream grants and 451s by territory, and the
request id echoed (and taken from a sane X-Request-ID)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from audio import make_audio
from cadenza.bootstrap import App, build_collaborators
from cadenza.db.engine import transaction
from cadenza.ingest.service import accept_upload
from cadenza.rights import service as rights
from cadenza.storage.local import LocalStore
from cadenza.web.app import create_app
from conftest import InlineRunner, create_user, make_settings

TOKEN = "scrape-token-for-tests"
DE, FR = "203.0.113.7", "198.51.100.9"


@pytest.fixture(scope="module")
def world(db: tuple[Engine, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("observability")
    settings = make_settings(
        tmp / "data",
        db[1],
        ops={"metrics_token": TOKEN, "ready_timeout_sec": 1},
        delivery={
            "trusted_proxies": ["127.0.0.1/32"],
            "geo_overrides": {"203.0.113.0/24": "DE", "198.51.100.0/24": "FR"},
        },
    )
    c = build_collaborators(settings, engine=db[0], run_migrations=False)
    track = accept_upload(
        c, InlineRunner(c), path=make_audio(tmp / "s.flac", duration=5, seed=9), filename="s.flac"
    )
    with transaction(c.sessions) as s:
        holder = rights.get_or_create_holder(s, name="Label")
        rights.grant(s, track_id=track.id, right_type="stream", territory="FR", holder_id=holder.id)
    fan = create_user(c.sessions, email="fan@example.org")
    state = App(c=c, runner=InlineRunner(c))
    with TestClient(create_app(settings, wired=state), client=("127.0.0.1", 5555)) as client:
        yield {"client": client, "track": track.id, "fan": fan, "c": c, "settings": settings}
    state.close()


def _sample(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return 0.0


def _scrape(client: TestClient) -> str:
    r = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return r.text


def test_alive_and_ready(world: dict[str, Any]) -> None:
    client = world["client"]
    assert client.get("/healthz").json() == {"status": "alive"}
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "checks": {"database": "ok", "storage": "ok"}}  # no broker here


def test_not_ready_names_the_part_that_fails(world: dict[str, Any], tmp_path: Path) -> None:
    class Unreachable(LocalStore):
        def exists(self, key: str) -> bool:
            raise ConnectionError("store at 10.0.0.9 refused the connection")

    c = dataclasses.replace(world["c"], store=Unreachable(tmp_path))
    app = create_app(world["settings"], wired=App(c=c, runner=InlineRunner(c)))
    r = TestClient(app).get("/readyz")
    assert r.status_code == 503
    body = r.json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["storage"].startswith("ConnectionError: store at 10.0.0.9 refused")
    assert body["reason"].startswith("storage: ")


def test_metrics_need_their_own_token(world: dict[str, Any]) -> None:
    client = world["client"]
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Bearer {world['fan']}"}).status_code == 401
    settings = world["settings"]
    unset = settings.model_copy(update={"ops": settings.ops.model_copy(update={"metrics_token": None})})
    app = create_app(unset, wired=App(c=world["c"], runner=InlineRunner(world["c"])))
    assert TestClient(app).get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404


def test_stream_grants_and_refusals_are_counted_by_territory(world: dict[str, Any]) -> None:
    client, track = world["client"], world["track"]
    auth = {"Authorization": f"Bearer {world['fan']}"}
    before = _scrape(client)
    assert (
        client.get(f"/api/tracks/{track}/stream", headers={**auth, "X-Forwarded-For": FR}).status_code == 200
    )
    for _ in range(2):
        r = client.get(f"/api/tracks/{track}/stream", headers={**auth, "X-Forwarded-For": DE})
        assert r.status_code == 451
    after = _scrape(client)

    def delta(name: str, **labels: str) -> float:
        return _sample(after, name, **labels) - _sample(before, name, **labels)

    assert delta("cadenza_stream_grants_total", territory="FR", outcome="issued") == 1
    assert delta("cadenza_stream_grants_total", territory="DE", outcome="unavailable") == 2
    route = "/api/tracks/{track_id}/stream"
    count = "cadenza_http_request_duration_seconds_count"
    assert delta(count, method="GET", route=route, status="2xx") == 1
    assert delta(count, method="GET", route=route, status="4xx") == 2
    assert not any(f'route="/api/tracks/{track}' in line for line in after.splitlines())  # templates only


def test_each_response_carries_a_request_id(world: dict[str, Any]) -> None:
    client = world["client"]
    mine = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a9c1e2b"})
    assert mine.headers["x-request-id"] == "lb-7f3a9c1e2b"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert made.headers["x-request-id"] != "bad id\twith spaces" and len(made.headers["x-request-id"]) == 32
