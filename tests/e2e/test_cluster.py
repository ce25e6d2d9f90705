"""The whole cluster on loopback (deploy/cluster/cluster.py), once per broker: a track uploaded through
nginx is processed by the Celery workers, published to the S3 server, and streamed through the edge and
the origin shield; the operations endpoints answer as documented (docs/deployment.md)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from audio import make_audio
from e2e import cluster_fixture as cf

if reason := cf.missing():
    pytest.skip(reason, allow_module_level=True)

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module", params=["redis", "rabbitmq"])
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = tmp_path_factory.mktemp(f"cluster-{request.param}")
    options = cf.Options(
        root=root / "c",
        broker=request.param,
        env={"CADENZA_DELIVERY__GEO_OVERRIDES": '{"127.0.0.1/32": "DE"}'},
    )
    c = cf.Cluster(options)
    c.up()
    try:
        yield c
    finally:
        c.down()
        for name, tail in c.logs():
            print(f"--- {name}\n{tail[-1500:]}")


@pytest.fixture(scope="module")
def published(cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One track uploaded through the edge by an administrator and processed to ready."""
    tmp = tmp_path_factory.mktemp("published")
    token = cf.admin_token(cluster)
    source = make_audio(tmp / "release.flac", duration=12, seed=151)
    r = cf.upload(cluster.edge_url, token, source, title="Loopback Release")
    assert r.status_code == 202, r.text
    track_id = r.json()["id"]
    cf.grant_stream(cluster.edge_url, token, track_id)
    track = cf.wait_status(cluster.edge_url, token, track_id)
    return {"token": token, "track": track, "request_id": r.headers["x-request-id"]}


def test_an_upload_through_the_edge_is_processed_and_streams_through_the_shield(
    cluster: Any, published: dict[str, Any], tmp_path: Path
) -> None:
    track = published["track"]
    assert track["status"] == "ready", track
    seconds = cf.play(cluster.edge_url, published["token"], track["id"], tmp_path / "out.wav")
    assert abs(seconds - 12) < 0.2
    media = [line for line in cluster.edge.access_log().splitlines() if "GET /media/" in line]
    caches = {line.split("cache=")[1].split()[0] for line in media if "master.m3u8" not in line}
    assert "MISS" in caches and caches <= {"MISS", "HIT", "EXPIRED"}  # bytes came through the shield
    # Published to the S3 server, not to a disk: every object of the track is in the bucket.
    keys = cf.store_keys(cluster)
    assert any(k.endswith("master.m3u8") for k in keys) and any(k.startswith("uploads/") for k in keys)


def test_the_request_id_of_the_upload_follows_the_track_into_the_workers(
    cluster: Any, published: dict[str, Any]
) -> None:
    rid = published["request_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", rid)
    lines = [json.loads(line) for line in cluster.services["worker-ingest"].tail(400_000).splitlines()
             if line.startswith("{")]  # fmt: skip
    finished = [line for line in lines if line.get("request_id") == rid and "succeeded" in line["msg"]]
    # Celery logs each stage task it finishes (the stage in its arguments): all five carry the upload's id.
    stages = {m for line in finished for m in re.findall(r"'(\w+)'[\])]", str(line.get("data")))}
    assert stages == {"validate", "transcode", "waveform", "fingerprint", "publish"}


def test_health_readiness_and_metrics(cluster: Any, published: dict[str, Any]) -> None:
    api = cluster.api_urls[0]
    assert httpx.get(f"{api}/healthz").json() == {"status": "alive"}
    ready = httpx.get(f"{cluster.edge_url}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "storage": "ok", "broker": "ok"}
    # Never from outside; on the private address only with the scrape token.
    assert httpx.get(f"{cluster.edge_url}/metrics").status_code == 404
    assert httpx.get(f"{api}/metrics").status_code == 401
    text = cf.metrics_text(cluster)
    # Both API processes' requests, added up (multiprocess mode): the stream route by its template.
    http = "cadenza_http_request_duration_seconds_count"
    stream = cf.sample(text, http, method="GET", route="/api/tracks/{track_id}/stream", status="2xx")
    assert stream and stream >= 1
    assert (cf.sample(text, "cadenza_stream_grants_total", outcome="issued", territory="DE") or 0) >= 1
    # The workers' stage timings, written into the same per-host directory.
    stage = "cadenza_pipeline_stage_duration_seconds_count"
    assert (cf.sample(text, stage, outcome="ok", stage="transcode") or 0) >= 1
    assert cf.sample(text, "cadenza_queue_depth", queue="cadenza-ingest") is not None
    # Objects the shield fetched from the origin (its misses).
    assert (cf.sample(text, http, method="GET", route="/origin", status="2xx") or 0) >= 1
    # The edge's own counters, from its stub_status: it has served the upload and the play above.
    assert cf.sample(text, "cadenza_nginx_up") == 1
    assert (cf.sample(text, "cadenza_nginx_http_requests_total") or 0) >= 10
