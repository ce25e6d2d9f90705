"""Release day: a new track, 1,000 simulated listeners within a few seconds, through the loopback cluster
(deploy/cluster/cluster.py: nginx edge + shield, two API processes, Celery, PostgreSQL, Redis, S3).

Each listener asks for a stream (`/api/tracks/{id}/stream`), fetches the master playlist (signed for it
by Python), the first variant playlist and every segment of it through the edge, like a player starting
the track. Arrivals are spread uniformly over `--spread` seconds; at most `--connections` requests are
open at once (the client is one Python process on the same 2 cores as the whole cluster, so it is the
bottleneck long before nginx is: read the latencies as the cluster's under that load, not as a CDN's).

Reported:
- origin requests per object: the API's `/origin` requests (the shield's misses, from /metrics) divided
  by the distinct objects listeners fetched. `proxy_cache_lock` makes concurrent misses of one object
  wait for the first instead of going to the origin: the target is about 1;
- complete, valid streams: every listener's bytes hash to the same value, and that stream decodes with
  ffmpeg for the track's full duration;
- p50/p99 of the time to start (stream grant → first segment received) and of each request kind;
- the baseline in the same run: the same listener flow for a track whose objects are already in the
  shield (warm), so the ratio p99(release)/p99(warm) says what the cold burst costs.

Usage: PYTHONPATH=src .venv/bin/python bench/release_day.py [--listeners 1000] [--spread 3]
                                                            [--connections 100] [--duration 30]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from audio import make_audio  # noqa: E402
from e2e import cluster_fixture as cf  # noqa: E402


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _listener(
    client: httpx.AsyncClient, sem: asyncio.Semaphore, token: str, track: int, delay: float, timings: dict
) -> tuple[str, set[str], float]:
    await asyncio.sleep(delay)
    auth = {"Authorization": f"Bearer {token}"}

    async def get(kind: str, url: str, **kw: object) -> httpx.Response:
        async with sem:
            t0 = time.perf_counter()
            r = await client.get(url, **kw)  # type: ignore[arg-type]
            timings[kind].append(time.perf_counter() - t0)
        r.raise_for_status()
        return r

    start = time.perf_counter()
    grant = (await get("grant", f"/api/tracks/{track}/stream", headers=auth)).json()
    master = (await get("master", grant["hls_url"])).text
    variant_path = next(line for line in master.splitlines() if line and not line.startswith("#"))
    variant_url = httpx.URL(grant["hls_url"]).join(variant_path)
    variant = (await get("variant", str(variant_url))).text
    base = str(variant_url).rsplit("/", 1)[0]
    names = [line.split('URI="')[1].split('"')[0] for line in variant.splitlines() if "EXT-X-MAP" in line]
    names += [line for line in variant.splitlines() if line and not line.startswith("#")]
    digest, objects, first = hashlib.sha256(), set(), 0.0
    for i, name in enumerate(names):
        body = (await get("segment", f"{base}/{name}")).content
        if i == 1:
            first = time.perf_counter() - start
        digest.update(body)
        objects.add(name)
    objects.add(variant_path.split("/")[-1])
    return digest.hexdigest(), objects, first


async def _crowd(edge: str, tokens: list[str], track: int, n: int, spread: float, conns: int) -> dict:
    timings: dict[str, list[float]] = defaultdict(list)
    sem = asyncio.Semaphore(conns)
    limits = httpx.Limits(max_connections=conns, max_keepalive_connections=conns)
    async with httpx.AsyncClient(base_url=edge, limits=limits, timeout=120) as client:
        rng = random.Random(7)
        t0 = time.perf_counter()
        results = await asyncio.gather(
            *(
                _listener(client, sem, tokens[i % len(tokens)], track, rng.uniform(0, spread), timings)
                for i in range(n)
            ),
            return_exceptions=True,
        )
        wall = time.perf_counter() - t0
    failures = [r for r in results if isinstance(r, BaseException)]
    ok = [r for r in results if not isinstance(r, BaseException)]
    return {"ok": ok, "failures": failures, "timings": timings, "wall": wall}


def _origin_requests(cluster: object) -> float:
    text = cf.metrics_text(cluster)
    return sum(
        cf.sample(
            text, "cadenza_http_request_duration_seconds_count", method="GET", route="/origin", status=s
        )
        or 0
        for s in ("2xx", "3xx", "4xx", "5xx")
    )


def _ready_track(cluster: object, admin: str, tmp: Path, seed: int, title: str, duration: float) -> int:
    source = make_audio(tmp / f"{title}.flac", duration=duration, seed=seed)
    r = cf.upload(cluster.edge_url, admin, source, title=title)  # type: ignore[attr-defined]
    r.raise_for_status()
    tid = int(r.json()["id"])
    cf.grant_stream(cluster.edge_url, admin, tid)  # type: ignore[attr-defined]
    assert cf.wait_status(cluster.edge_url, admin, tid, timeout=300)["status"] == "ready"  # type: ignore[attr-defined]
    return tid


def _report(name: str, run: dict) -> dict[str, float]:
    t = run["timings"]
    starts = [first for _, _, first in run["ok"]]
    print(f"\n{name}: {len(run['ok'])} listeners served, {len(run['failures'])} failed, {run['wall']:.1f} s")
    for kind in ("grant", "master", "variant", "segment"):
        vals = t[kind]
        p50, p99 = _pct(vals, 0.5) * 1000, _pct(vals, 0.99) * 1000
        print(f"  {kind:8s} n={len(vals):6d}  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms")
    p50, p99 = _pct(starts, 0.5) * 1000, _pct(starts, 0.99) * 1000
    print(f"  time to first segment: p50 {p50:.0f} ms, p99 {p99:.0f} ms")
    return {"p99_start": _pct(starts, 0.99), "p50_start": _pct(starts, 0.5)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listeners", type=int, default=1000)
    parser.add_argument("--spread", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--duration", type=float, default=30.0, help="track length (s): 6 s per segment")
    args = parser.parse_args()
    # SIGTERM (a timeout, Ctrl-C's cousin) must still stop the cluster and drop its database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    tmp = Path(tempfile.mkdtemp(prefix="cadenza-release-"))
    # The start token (signed for the master playlist) lives 60 s by default; a listener of this one
    # Python client may wait longer than that for a connection, which would be the client's doing.
    env = {"CADENZA_SIGNING__START_TTL_SEC": "900"}
    cluster = cf.Cluster(cf.Options(root=tmp / "cluster", env=env))
    cluster.up()
    try:
        admin = cf.admin_token(cluster)
        tokens = [cf.admin_token(cluster, email=f"listener{i}@example.org") for i in range(20)]
        warm_track = _ready_track(cluster, admin, tmp, 501, "warm", args.duration)
        new_track = _ready_track(cluster, admin, tmp, 502, "release", args.duration)
        # Baseline: a track the shield already holds (one listener warms it).
        asyncio.run(_crowd(cluster.edge_url, tokens, warm_track, 1, 0, 1))
        warm = asyncio.run(
            _crowd(cluster.edge_url, tokens, warm_track, args.listeners, args.spread, args.connections)
        )
        before = _origin_requests(cluster)
        release = asyncio.run(
            _crowd(cluster.edge_url, tokens, new_track, args.listeners, args.spread, args.connections)
        )
        origin = _origin_requests(cluster) - before
        w = _report("baseline (warm shield)", warm)
        r = _report("release (cold shield, burst)", release)
        digests = {d for d, _, _ in release["ok"]}
        objects = set().union(*(o for _, o, _ in release["ok"])) if release["ok"] else set()
        print(f"\nobjects per listener: {len(objects)}; origin requests during the burst: {origin:.0f} "
              f"-> {origin / max(1, len(objects)):.2f} per object (target ~1)")  # fmt: skip
        print(f"distinct stream contents across listeners: {len(digests)} (1 = every listener got the same)")
        # The stream itself is valid: decode it once, whole.
        out = tmp / "check.wav"
        seconds = cf.play(cluster.edge_url, admin, new_track, out)
        print(f"the released stream decodes: {seconds:.2f} s of audio (source {args.duration:g} s)")
        print(f"\np99 time to first segment: release {r['p99_start'] * 1000:.0f} ms vs warm "
              f"{w['p99_start'] * 1000:.0f} ms: ratio {r['p99_start'] / w['p99_start']:.2f}")  # fmt: skip
        for f in release["failures"][:5]:
            print(f"failure: {type(f).__name__}: {f}")
    finally:
        cluster.down()
        subprocess.run(["rm", "-rf", str(tmp)], check=False)


if __name__ == "__main__":
    main()
