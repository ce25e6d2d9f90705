"""The loopback cluster of deploy/cluster/cluster.py for tests, and what a client of it does: sign in as
an administrator, upload through the edge, wait for ready, play through the edge with ffmpeg."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from cadenza.config import Settings
from cadenza.db.engine import make_engine, make_session_factory
from conftest import create_user

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "cadenza_cluster", ROOT / "deploy" / "cluster" / "cluster.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["cadenza_cluster"] = module
    spec.loader.exec_module(module)
    return module


cluster_mod = _load()
Cluster = cluster_mod.Cluster
Options = cluster_mod.Options


def missing() -> str | None:
    """Why a cluster cannot run here (for pytest.skip), or None."""
    from e2e import nginx_fixture

    if reason := nginx_fixture.missing():
        return reason
    for tool in ("ffmpeg", "redis-server"):
        if shutil.which(tool) is None:
            return f"{tool} not installed"
    return None


def admin_token(cluster: Any, email: str = "ops@example.org") -> str:
    """A bearer token of an administrator, made directly in the cluster's database."""
    url = Settings(database_url=cluster.database_url).db_url
    engine = make_engine(url)
    try:
        return create_user(make_session_factory(engine), email=email, role="admin", tier="hifi")
    finally:
        engine.dispose()


def upload(base: str, token: str, path: Path, *, title: str) -> httpx.Response:
    with path.open("rb") as f:
        return httpx.post(
            f"{base}/api/tracks",
            headers={"Authorization": f"Bearer {token}"},
            files={"file": (path.name, f, "audio/flac")},
            data={"title": title, "artist": "Cluster Band"},
            timeout=60,
        )


def grant_stream(base: str, token: str, track_id: int, territory: str | None = None) -> None:
    r = httpx.post(
        f"{base}/api/tracks/{track_id}/rights",
        headers={"Authorization": f"Bearer {token}"},
        json={"right_type": "stream", "holder": "Cluster Label", "territory": territory},
        timeout=30,
    )
    assert r.status_code == 201, r.text


def wait_status(base: str, token: str, track_id: int, *, timeout: float = 150) -> dict[str, Any]:
    """The track once it is no longer processing (bounded: fails after `timeout`)."""
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            r = httpx.get(
                f"{base}/api/tracks/{track_id}", headers={"Authorization": f"Bearer {token}"}, timeout=10
            )
            if r.status_code == 200:
                last = r.json()
                if last.get("status") != "processing":
                    return last
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"track {track_id} still processing after {timeout} s: {last}")


def play(edge_url: str, token: str, track_id: int, out: Path) -> float:
    """Ask for a stream through the edge and decode all of it with ffmpeg; the decoded seconds."""
    grant = httpx.get(
        f"{edge_url}/api/tracks/{track_id}/stream", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert grant.status_code == 200, grant.text
    proc = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", edge_url + grant.json()["hls_url"],
         "-map", "0:a:0", "-y", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr
    seconds = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(out)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return float(seconds)


def sample(text: str, name: str, **labels: str) -> float | None:
    """One sample's value from a Prometheus scrape, by name and exact labels (None if absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return None


def metrics_text(cluster: Any, api: int = 0) -> str:
    auth = {"Authorization": f"Bearer {cluster.metrics_token}"}
    r = httpx.get(f"{cluster.api_urls[api]}/metrics", headers=auth, timeout=10)
    assert r.status_code == 200, r.text
    return r.text


def store_keys(cluster: Any) -> list[str]:
    """Every object in the cluster's bucket."""
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=cluster.s3_url,
        region_name="us-east-1",
        aws_access_key_id="cluster",
        aws_secret_access_key="cluster",
    )
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=cluster_mod.BUCKET):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return keys
