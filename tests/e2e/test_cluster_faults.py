"""Fault drills on the loopback cluster (bounded, loopback only), one cluster for the module with a Redis
of its own (so the broker can be restarted without touching the machine's) and a short reaper timeout
(`stale_after_sec`; production keeps twice the stage timeout: docs/deployment.md).

- a worker SIGKILLed mid-transcode: the track still reaches ready, and no orphan object is left;
- the broker restarted (without persistence: queued tasks lost) during ingestion: nothing stuck;
- one of two API processes SIGKILLed under load: nginx keeps serving from the other, and the failed
  requests are at most those in flight at the kill;
- PostgreSQL connections killed again and again during playback-event ingestion: no event lost or doubled;
- the S3 server hung (SIGSTOP) for a while: readiness names the store, playback of cached media goes on
  through the shield, an upload made meanwhile completes once the store answers again."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from audio import make_audio
from cadenza.config import Settings
from cadenza.db.engine import make_engine
from e2e import cluster_fixture as cf
from fault_drills import connections_killed, post_until_answered

if reason := cf.missing():
    pytest.skip(reason, allow_module_level=True)

pytestmark = pytest.mark.timeout(900)

# Above the longest stage here (a 30 s track transcodes in a few seconds; more on a loaded machine: a
# stage still running when it is reaped is only done twice, which stages allow).
STALE_AFTER = 25.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("faults")
    options = cf.Options(
        root=root / "c",
        own_redis=True,
        stage_timeout_sec=120,
        stale_after_sec=STALE_AFTER,
        reaper_every_sec=2,
        env={"CADENZA_OPS__READY_TIMEOUT_SEC": "1"},
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
def token(cluster: Any) -> str:
    return cf.admin_token(cluster)


def _db(cluster: Any) -> Any:
    return make_engine(Settings(database_url=cluster.database_url).db_url)


def _stage(cluster: Any, track_id: int) -> tuple[str, str | None]:
    engine = _db(cluster)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT status, stage FROM tracks WHERE id = :t"), {"t": track_id}).one()
            return str(row[0]), row[1]
    finally:
        engine.dispose()


def _wait_stage(cluster: Any, track_id: int, stage: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _stage(cluster, track_id)[1] == stage:
            return
        time.sleep(0.05)
    raise AssertionError(f"track {track_id} never reached stage {stage}")


def _orphans(cluster: Any) -> list[str]:
    """Objects in the bucket that no track references (its media version, its source, artwork)."""
    engine = _db(cluster)
    try:
        with engine.connect() as conn:
            prefixes = [r[0] for r in conn.execute(text("SELECT media_prefix FROM tracks")) if r[0]]
            sources = {r[0] for r in conn.execute(text("SELECT source_key FROM tracks")) if r[0]}
    finally:
        engine.dispose()
    return [
        k
        for k in cf.store_keys(cluster)
        if k not in sources
        and not k.startswith("artwork")
        and not any(k.startswith(p + "/") for p in prefixes)
    ]


def test_a_worker_killed_mid_transcode_costs_a_rerun_not_the_track(
    cluster: Any, token: str, tmp_path: Path
) -> None:
    source = make_audio(tmp_path / "long.flac", duration=30, seed=71)
    r = cf.upload(cluster.edge_url, token, source, title="Interrupted")
    assert r.status_code == 202, r.text
    track_id = r.json()["id"]
    _wait_stage(cluster, track_id, "transcode")
    time.sleep(0.3)  # ffmpeg is running now
    cluster.kill("worker-ingest")  # the whole worker: no chance to hand the task back
    cluster.start("worker-ingest")
    track = cf.wait_status(cluster.edge_url, token, track_id, timeout=STALE_AFTER + 120)
    assert track["status"] == "ready", track
    assert _orphans(cluster) == []
    assert "queued again" in cluster.services["worker-analysis"].tail(200_000)  # the reaper did it


def test_a_broker_restart_loses_queued_work_and_the_reaper_recovers_it(
    cluster: Any, token: str, tmp_path: Path
) -> None:
    cluster.stop("worker-ingest")  # the upload's task waits in Redis ...
    source = make_audio(tmp_path / "queued.flac", duration=8, seed=72)
    r = cf.upload(cluster.edge_url, token, source, title="Queued")
    assert r.status_code == 202, r.text
    track_id = r.json()["id"]
    cluster.kill("redis")  # ... and is gone with it (no persistence)
    cluster.start("redis")
    cluster.start("worker-ingest")
    track = cf.wait_status(cluster.edge_url, token, track_id, timeout=STALE_AFTER + 120)
    assert track["status"] == "ready", track
    assert _orphans(cluster) == []


@pytest.fixture(scope="module")
def playable(cluster: Any, token: str, tmp_path_factory: pytest.TempPathFactory) -> int:
    source = make_audio(tmp_path_factory.mktemp("playable") / "p.flac", duration=12, seed=73)
    r = cf.upload(cluster.edge_url, token, source, title="Playable")
    assert r.status_code == 202, r.text
    track_id = int(r.json()["id"])
    cf.grant_stream(cluster.edge_url, token, track_id)
    assert cf.wait_status(cluster.edge_url, token, track_id)["status"] == "ready"
    return track_id


def test_one_api_process_killed_under_load_the_other_keeps_serving(
    cluster: Any, token: str, playable: int
) -> None:
    url = f"{cluster.edge_url}/api/tracks/{playable}/stream"
    auth = {"Authorization": f"Bearer {token}"}
    listeners, per_listener, kill_at = 8, 40, 10
    results: list[list[int]] = [[] for _ in range(listeners)]
    killed = threading.Event()

    def listener(i: int) -> None:
        with httpx.Client(timeout=15) as client:
            for n in range(per_listener):
                if i == 0 and n == kill_at:
                    cluster.kill("api-1")
                    killed.set()
                try:
                    results[i].append(client.get(url, headers=auth).status_code)
                except httpx.HTTPError:
                    results[i].append(0)

    with ThreadPoolExecutor(listeners) as pool:
        list(pool.map(listener, range(listeners)))
    try:
        assert killed.is_set()
        statuses = [s for r in results for s in r]
        failed = [s for s in statuses if s != 200]
        # At most the requests in flight when it died (one per listener) fail; the rest are served.
        assert len(failed) <= listeners, failed
        assert statuses.count(200) >= len(statuses) - listeners
        assert all(r[-1] == 200 for r in results)  # after the kill, everyone is served
    finally:
        cluster.start("api-1")


def test_killed_database_connections_lose_no_event_and_double_none(
    cluster: Any, token: str, playable: int
) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    grants = [
        httpx.get(f"{cluster.edge_url}/api/tracks/{playable}/stream", headers=auth, timeout=15).json()
        for _ in range(12)
    ]
    sessions = [g["session_id"] for g in grants]
    engine = _db(cluster)
    try:
        deadline = time.monotonic() + 30  # each API process writes its sessions in the background
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                known = conn.execute(
                    text("SELECT count(*) FROM playback_sessions WHERE id = ANY(:ids)"), {"ids": sessions}
                ).scalar_one()
            if known == len(sessions):
                break
            time.sleep(0.2)
        start = datetime.now(UTC)
        events = [
            {"id": str(uuid.uuid4()), "session_id": sid, "kind": "progress", "seconds_played": 1.0,
             "occurred_at": (start + timedelta(seconds=k)).isoformat(), "quality": "aac_128"}
            for sid in sessions for k in range(1, 11)
        ]  # fmt: skip
        random.Random(5).shuffle(events)
        batches = [events[i : i + 4] for i in range(0, len(events), 4)]
        admin_url = cluster.o.pg_admin_url.replace("postgresql://", "postgresql+psycopg://", 1)
        with (
            connections_killed(admin_url, database=cluster.database, pause=(0.05, 0.2)) as kills,
            httpx.Client(base_url=cluster.edge_url, timeout=15) as client,
        ):
            failed = sum(post_until_answered(client, token, b, pause=0.05)[1] for b in batches)
        with httpx.Client(base_url=cluster.edge_url, timeout=15) as client:
            for b in batches[:3]:  # sent again after the storm: duplicates, not new events
                post_until_answered(client, token, b, pause=0.05)
        assert sum(kills) > 0
        print(f"connections killed: {sum(kills)}; answers the player had to retry: {failed}")
        with engine.connect() as conn:
            stored = conn.execute(
                text("SELECT count(*), count(DISTINCT id) FROM playback_events WHERE kind = 'progress' "
                     "AND session_id = ANY(:ids)"),
                {"ids": sessions},
            ).one()  # fmt: skip
        assert tuple(stored) == (len(events), len(events))
    finally:
        engine.dispose()


def test_a_hung_object_store_playback_from_the_shield_goes_on_and_uploads_resume(
    cluster: Any, token: str, playable: int, tmp_path: Path
) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    assert cf.play(cluster.edge_url, token, playable, tmp_path / "warm.wav") > 11  # the shield has it now
    grant = httpx.get(f"{cluster.edge_url}/api/tracks/{playable}/stream", headers=auth, timeout=15).json()
    for api in cluster.api_urls:  # each API process has read the master playlist once (it keeps it)
        assert httpx.get(api + grant["hls_url"], timeout=15).status_code == 200
    cluster.pause("s3")
    try:
        ready = httpx.get(f"{cluster.api_urls[0]}/readyz", timeout=15)
        assert ready.status_code == 503 and ready.json()["checks"]["storage"] != "ok", ready.text
        assert ready.json()["checks"]["database"] == "ok"
        # Playing: the master playlist is signed by Python, the rest comes from the shield's cache.
        assert cf.play(cluster.edge_url, token, playable, tmp_path / "paused.wav") > 11
        source = make_audio(tmp_path / "during.flac", duration=8, seed=74)
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(cf.upload, cluster.edge_url, token, source, title="During")
            time.sleep(3)
            cluster.resume("s3")
            r = pending.result(timeout=120)
    finally:
        cluster.resume("s3")
    assert r.status_code in (202, 503), r.text  # waited it out, or refused cleanly (retry later)
    if r.status_code == 503:
        r = cf.upload(cluster.edge_url, token, source, title="During")
    track = cf.wait_status(cluster.edge_url, token, r.json()["id"])
    assert track["status"] == "ready"
