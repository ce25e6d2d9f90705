"""Clear Key licence issuance vs stream-URL issuance, same server, same run, on PostgreSQL.

A licence request is on the click-to-first-audio path of a protected track (the CDM asks for the key
before the first segment decrypts), so it is measured against the stream route that precedes it.
Licence = bearer auth + licence-token check (HMAC) + geo lookup + rights check + the content key
(unwrapped from the database under the master key, cached per track) + the JWK answer + a log line.
Stream = bearer auth + geo + rights + signing + a playback session with its start event.

    .venv/bin/python bench/licence.py [--duration 10] [--connections 100] [--tracks 1000] [--rounds 3]

Targets (issue 14): licence throughput >= 0.5x the stream route's, p99 <= 2x.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from cadenza.catalog.models import Track, TrackVariant  # noqa: E402
from cadenza.delivery import service as delivery  # noqa: E402
from cadenza.delivery import signing  # noqa: E402
from cadenza.protection import envelope  # noqa: E402
from cadenza.protection.clearkey import b64url  # noqa: E402
from cadenza.protection.models import ContentKey  # noqa: E402
from harness import pg_schema, schema_url, seed_streamable, start_server, stop, wrk  # noqa: E402

SIGNING_SECRET = "bench-signing-secret"
MASTER = bytes(range(32))

LUA = """
local ids = {}
for i = 1, %(tracks)d do ids[i] = i + %(first)d - 1 end
wrk.headers["Authorization"] = "Bearer %(token)s"
request = function()
  return wrk.format("GET", "/api/tracks/" .. ids[math.random(#ids)] .. "/stream")
end
done = function(summary, latency, requests)
  io.write(string.format("P99_US %%d\\n", latency:percentile(99)))
  io.write(string.format("DIST p50 %%d p90 %%d p99 %%d max %%d\\n", latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max))
end
"""

LUA_LICENCE = """
local ids, tokens, bodies = {}, {}, {}
%(tables)s
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer %(token)s"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local i = math.random(#ids)
  return wrk.format("POST", "/api/tracks/" .. ids[i] .. "/licence?token=" .. tokens[i], nil, bodies[i])
end
done = function(summary, latency, requests)
  io.write(string.format("P99_US %%d\\n", latency:percentile(99)))
  io.write(string.format("DIST p50 %%d p90 %%d p99 %%d max %%d\\n", latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def _seed(engine: Engine, n: int) -> tuple[int, str, int, dict[int, bytes]]:
    """`n` protected tracks (an encrypted AAC rendition and a wrapped content key each) with rights, and
    a listener: the first track's id, the token, the listener's id and each track's key id."""
    masters = envelope.MasterKeys(active="bench", keys={"bench": MASTER})
    kids: dict[int, bytes] = {}

    def protected(t: Track) -> TrackVariant:
        return TrackVariant(
            track_id=t.id,
            quality="aac_256",
            codec="aac",
            container=delivery.PROTECTED_CONTAINER,
            bitrate_kbps=256,
            storage_key=f"{t.media_prefix}/hls/aac_256/index.m3u8",
            size_bytes=1,
            checksum="0" * 64,
        )

    def content_key(s: Session, t: Track) -> None:
        kid, key = os.urandom(16), os.urandom(16)
        master_id, wrapped = envelope.wrap(masters, track_id=t.id, kid=kid, key=key)
        s.add(ContentKey(track_id=t.id, kid=kid.hex(), wrapped=wrapped, master_key_id=master_id))
        kids[t.id] = kid

    first, token, user_id = seed_streamable(
        engine, n, variant=protected, extra=content_key, analyze=("content_keys",)
    )
    return first, token, user_id, kids


def _cpu_sec(pgid: int) -> float:
    """User + system CPU seconds of every process in the server's process group (the server runs its
    workers as children), from /proc/<pid>/stat."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 of stat: the process group
            total += sum(int(f) for f in fields[11:15])
    return total / os.sysconf("SC_CLK_TCK")


def _wrk(url: str, script: Path, *, duration: int, connections: int) -> tuple[float, float]:
    run = wrk(url, script, duration=duration, connections=connections)
    _wrk.requests = run.requests  # type: ignore[attr-defined]
    return run.rps, run.p99_ms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=100)
    ap.add_argument("--tracks", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved hello/stream rounds")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with pg_schema(schema) as engine:
        _run(args, engine, schema)


def _run(args: argparse.Namespace, engine: Engine, schema: str) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="cadenza-bench-"))
    server = None
    try:
        first, token, user_id, kids = _seed(engine, args.tracks)
        port = 8937
        env = {
            **os.environ,
            "CADENZA_DATA_DIR": str(tmp),
            "CADENZA_DATABASE_URL": schema_url(schema),
            "CADENZA_PORT": str(port),
            "CADENZA_SIGNING__KEYS": json.dumps({"bench": SIGNING_SECRET}),
            "CADENZA_PROTECTION__MASTER_KEYS": json.dumps({"bench": base64.b64encode(MASTER).decode()}),
        }
        server = start_server([str(ROOT / ".venv/bin/cadenza"), "serve"], env=env, port=port)
        base = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {token}"}
        check = httpx.get(f"{base}/api/tracks/{first}/stream", headers=auth)
        assert check.status_code == 200 and check.json()["licence_url"], check.text
        keyring = signing.Keyring("bench", {"bench": SIGNING_SECRET})
        expires = time.time() + 3600
        paths = {
            tid: delivery.licence_path(
                keyring, track_id=tid, user_id=user_id, ttl=3600, ip="127.0.0.1", now=expires - 3600
            )
            for tid in kids
        }
        bodies = {tid: json.dumps({"kids": [b64url(kid)], "type": "temporary"}) for tid, kid in kids.items()}
        one = httpx.post(base + paths[first], content=bodies[first], headers=auth)
        assert one.status_code == 200 and one.headers["cache-control"] == "no-store", one.text
        rows = []
        for i, tid in enumerate(sorted(kids), start=1):
            lic_token = paths[tid].partition("token=")[2]
            rows.append(
                f'ids[{i}] = {tid}; tokens[{i}] = "{lic_token}"; bodies[{i}] = {json.dumps(bodies[tid])}'
            )
        tables = "\n".join(rows)
        licence = tmp / "licence.lua"
        licence.write_text(LUA_LICENCE % {"tables": tables, "token": token})
        stream = tmp / "stream.lua"
        stream.write_text(LUA % {"tracks": args.tracks, "first": first, "token": token})
        print(f"wrk -t2 -c{args.connections} -d{args.duration}s; PostgreSQL; {args.tracks} protected tracks")
        # Warm up both paths first (token and track caches, connection pool): steady state is measured,
        # where each track's facts are re-read once per cache TTL.
        _wrk(f"{base}/", stream, duration=max(3, args.duration // 2), connections=args.connections)
        _wrk(f"{base}/", licence, duration=max(3, args.duration // 2), connections=args.connections)
        # Rounds interleave the two endpoints, so a noisy stretch of this shared machine hits both; each
        # round's ratios are printed, and their medians are the result.
        rows = []
        cpu: list[tuple[float, float]] = []  # server CPU ms per request: stream, licence
        for n in range(1, args.rounds + 1):
            c0 = _cpu_sec(server.pid)
            issue = _wrk(f"{base}/", stream, duration=args.duration, connections=args.connections)
            c1, n_issue = _cpu_sec(server.pid), _wrk.requests  # type: ignore[attr-defined]
            keys = _wrk(f"{base}/", licence, duration=args.duration, connections=args.connections)
            c2, n_keys = _cpu_sec(server.pid), _wrk.requests  # type: ignore[attr-defined]
            cpu.append(((c1 - c0) * 1000 / n_issue, (c2 - c1) * 1000 / n_keys))
            rows.append((issue, keys, keys[0] / issue[0], keys[1] / issue[1]))
            print(
                f"round {n}: stream URLs {issue[0]:7.0f} req/s p99 {issue[1]:5.1f} ms | licences "
                f"{keys[0]:7.0f} req/s p99 {keys[1]:5.1f} ms | ratios {rows[-1][2]:.2f} {rows[-1][3]:.2f} | "
                f"server CPU/request {cpu[-1][0]:.2f} vs {cpu[-1][1]:.2f} ms"
            )
        issue_rps, issue_p99 = (statistics.median(r[0][i] for r in rows) for i in (0, 1))
        keys_rps, keys_p99 = (statistics.median(r[1][i] for r in rows) for i in (0, 1))
        print(f"stream URLs  {issue_rps:9.0f} req/s  p99 {issue_p99:7.1f} ms   (medians of {len(rows)})")
        print(f"licences     {keys_rps:9.0f} req/s  p99 {keys_p99:7.1f} ms")
        print(
            f"throughput ratio {statistics.median(r[2] for r in rows):.2f} (target >= 0.5)   "
            f"p99 ratio {statistics.median(r[3] for r in rows):.2f} (target <= 2)   (medians of the rounds)"
        )
        stream_cpu, licence_cpu = (statistics.median(c[i] for c in cpu) for i in (0, 1))
        print(
            f"server CPU per request: stream {stream_cpu:.2f} ms, licence {licence_cpu:.2f} ms, "
            f"ratio {licence_cpu / stream_cpu:.2f} (less noisy than wall time on a shared machine)"
        )
    finally:
        if server is not None:
            stop(server)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
