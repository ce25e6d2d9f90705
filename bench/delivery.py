"""Delivery benchmark: one ~170 KB HLS segment (6 s of 256 kbps AAC, fMP4), three ways, in one run.

(a) nginx serving the file statically, no checks (the baseline);
(b) Cadenza's production path: nginx checks the signed URL in njs, then serves the object from the media
    store on its own disk (single box / shared volume: `b`), or from the warm shield cache in front of the
    origin (S3-style deployments: `b'`);
(c) Cadenza alone: the app (`cadenza serve`) checks the token and serves `/media/<token>/<key>` itself.

Each is measured with wrk (same connections, threads and duration), in interleaved rounds (a, b, c, a, b,
c, ...) so machine noise hits all alike; medians are reported. Latency percentiles come from wrk's Lua
`done()` hook. (a) and (b) are two servers of one nginx: same worker count, access log, sendfile and
open_file_cache, so the difference is the njs check and the cache lookup.

On 2 cores the defaults give one core to the load (wrk -t1) and one to the server (nginx
worker_processes 1; the app is one server process too): with wrk -t2 the load generator and the server
fight over both cores and the static baseline's p99 swings by two orders of magnitude between runs.
Targets: b/a >= 0.8 and p99(b) <= 2 x p99(a); c/a >= 0.15.

Usage: .venv/bin/python bench/delivery.py [--duration 5] [--rounds 3] [--connections 50] [--threads 1]
                                          [--workers 1]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "delivery"
sys.path.insert(0, str(ROOT / "tests"))

from cadenza.delivery import signing  # noqa: E402
from e2e import nginx_fixture  # noqa: E402
from e2e.nginx_fixture import free_port, start_nginx  # noqa: E402
from harness import stop  # noqa: E402

KEYS = {"bench1": "bench-signing-secret-0123456789abcdef"}
KEYRING = signing.Keyring("bench1", KEYS)
ORIGIN_SECRET = "bench-origin-secret"

# wrk calls done() once with the merged statistics of all threads; print them as one JSON line.
WRK_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "errors": %d, "non2xx": %d, '
    .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True)
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    bytes_per_req: float
    errors: int


def segment() -> Path:
    """A real fMP4 media segment: 6 s of stereo noise-like audio at 256 kbps AAC (generated once)."""
    OUT.mkdir(parents=True, exist_ok=True)
    done = sorted(OUT.glob("seg/*.m4s"))
    if done:
        return done[0]
    work = OUT / "seg.tmp"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi",
         "-i", "anoisesrc=d=12:c=pink:r=44100:a=0.25", "-ac", "2", "-c:a", "aac", "-b:a", "256k",
         "-f", "hls", "-hls_time", "6", "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4",
         "-hls_segment_filename", str(work / "s%d.m4s"), str(work / "index.m3u8")],
        check=True,
    )  # fmt: skip
    first = work / "s0.m4s"
    digest = hashlib.sha256(first.read_bytes()).hexdigest()[:16]
    final = OUT / "seg"
    shutil.rmtree(final, ignore_errors=True)
    final.mkdir()
    shutil.copyfile(first, final / f"{digest}.m4s")
    shutil.rmtree(work)
    return final / f"{digest}.m4s"


def get(url: str, path: str) -> tuple[int, dict[str, str], bytes]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def wait_http(url: str, path: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if get(url, path)[0] < 500:
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer in {timeout}s")


def start_app(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`cadenza serve` on a temp data dir, with the bench keys and the origin secret."""
    port = free_port()
    env = {
        **os.environ,
        "CADENZA_DATA_DIR": str(data),
        "CADENZA_ENV": "test",
        "CADENZA_SIGNING__KEYS": json.dumps(KEYS),
        "CADENZA_SIGNING__ACTIVE_KEY": KEYRING.active,
        "CADENZA_DELIVERY__ORIGIN_SECRET": ORIGIN_SECRET,
        "CADENZA_DELIVERY__TRUSTED_PROXIES": '["127.0.0.1/32"]',
    }
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "cadenza"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url, "/api/health", proc)
    except BaseException:
        stop(proc)
        raise
    return proc, url


def wrk(name: str, url: str, args: argparse.Namespace, lua: Path) -> Result:
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "--timeout", "5s",
           "-s", str(lua), url]  # fmt: skip
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=args.duration + 60).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("WRK_JSON "))
    s = json.loads(line.removeprefix("WRK_JSON "))
    rps = s["requests"] / (s["duration_us"] / 1e6)
    return Result(
        name,
        rps,
        s["p50_us"] / 1000,
        s["p99_us"] / 1000,
        s["bytes"] / max(1, s["requests"]),
        s["errors"] + s["non2xx"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs of each")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--workers", default="1", help="nginx worker_processes for (a) and (b) alike")
    args = parser.parse_args()
    # A SIGTERM (a timeout, a CI stop) unwinds like Ctrl-C, so the servers started below are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if reason := nginx_fixture.missing():
        sys.exit(f"bench/delivery.py: {reason}")
    if shutil.which("wrk") is None:
        sys.exit("bench/delivery.py: wrk not installed (apt-get install wrk)")

    seg = segment()
    size = seg.stat().st_size
    key = f"tracks/1/bench0001/hls/aac_256/{seg.name}"
    load = f"{args.rounds} x wrk -t{args.threads} -c{args.connections} -d{args.duration}s"
    print(f"segment: {seg.relative_to(ROOT)} ({size} bytes); {load}; nginx worker_processes {args.workers}")

    with tempfile.TemporaryDirectory(prefix="cadenza-bench-") as tmp_s:
        tmp = Path(tmp_s)
        data = tmp / "data"
        (data / "media" / key).parent.mkdir(parents=True)
        shutil.copyfile(seg, data / "media" / key)
        static_root = tmp / "static"
        (static_root / key).parent.mkdir(parents=True)
        shutil.copyfile(seg, static_root / key)
        lua = tmp / "report.lua"
        lua.write_text(WRK_LUA)

        app, app_url = start_app(data)
        try:
            static_port = free_port()
            # (a): a plain static server in the same nginx, same workers, logging and sendfile.
            static_conf = (
                f"server {{ listen 127.0.0.1:{static_port}; root {static_root}; "
                "open_file_cache max=20000 inactive=60s; open_file_cache_valid 30s; }\n"
            )
            edge = start_nginx(
                tmp / "edge",
                upstream=app_url,
                keys=KEYS,
                origin_secret=ORIGIN_SECRET,
                worker_processes=args.workers,
                extra_conf={"static.conf": static_conf},
            )
            disk = start_nginx(
                tmp / "edge-disk",
                upstream=app_url,
                keys=KEYS,
                origin_secret=ORIGIN_SECRET,
                worker_processes=args.workers,
                media_root=data / "media",
            )
            try:
                static_url = f"http://127.0.0.1:{static_port}"
                path = signing.signed_path(KEYRING, key=key, depth=3, ttl=3600, ip="127.0.0.1")
                results = run_all(args, lua, static_url, edge.url, disk.url, app_url, key, path, size)
            finally:
                edge.stop()
                disk.stop()
        finally:
            stop(app)
    report(results)


def run_all(
    args: argparse.Namespace,
    lua: Path,
    static_url: str,
    edge_url: str,
    disk_url: str,
    app_url: str,
    key: str,
    path: str,
    size: int,
) -> dict[str, Result | None]:
    """Check each path answers the segment, warm the shield, then measure a, b, c in turn."""
    status, _, body = get(static_url, f"/{key}")
    assert status == 200 and len(body) == size, status
    for _ in range(2):  # the first fills the shield cache, the second must be a hit
        status, headers, body = get(edge_url, path)
    assert status == 200 and len(body) == size and headers.get("X-Cache-Status") == "HIT", (status, headers)
    status, headers, body = get(disk_url, path)
    assert status == 200 and len(body) == size and "X-Cache-Status" not in headers, (status, headers)
    status, _, body = get(app_url, path)
    app_ok = status == 200 and len(body) == size
    if not app_ok:
        print(f"(c) skipped: the app answered {status} for /media/<token>/<key>: {body[:200]!r}")
    runs: dict[str, list[Result]] = {"a": [], "b": [], "b'": [], "c": []}
    for _ in range(args.rounds):
        runs["a"].append(wrk("(a) nginx static", f"{static_url}/{key}", args, lua))
        runs["b"].append(wrk("(b) nginx + njs + disk", f"{disk_url}{path}", args, lua))
        runs["b'"].append(wrk("(b') nginx + njs + shield", f"{edge_url}{path}", args, lua))
        if app_ok:
            runs["c"].append(wrk("(c) app alone", f"{app_url}{path}", args, lua))
    return {name: median(rs) if rs else None for name, rs in runs.items()}


def median(runs: list[Result]) -> Result:
    def med(values: list[float]) -> float:
        return statistics.median(values)

    return Result(
        runs[0].name,
        med([r.rps for r in runs]),
        med([r.p50_ms for r in runs]),
        med([r.p99_ms for r in runs]),
        med([r.bytes_per_req for r in runs]),
        sum(r.errors for r in runs),
    )


def report(results: dict[str, Result | None]) -> None:
    print(f"{'':28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'bytes/req':>10} {'errors':>7}")
    for r in results.values():
        if r is not None:
            cols = f"{r.rps:9.0f} {r.p50_ms:8.2f} {r.p99_ms:8.2f} {r.bytes_per_req:10.0f} {r.errors:7d}"
            print(f"{r.name:28} {cols}")
    a, b, c = results["a"], results["b"], results["c"]
    assert a is not None and b is not None
    print(f"ratio b/a: {b.rps / a.rps:.2f}  (target >= 0.80)")
    print(f"p99(b)/p99(a): {b.p99_ms / a.p99_ms:.2f}  (target <= 2.00)")
    shield = results["b'"]
    if shield is not None:
        print(
            f"ratio b'/a (shield cache): {shield.rps / a.rps:.2f}   "
            f"p99(b')/p99(a): {shield.p99_ms / a.p99_ms:.2f}"
        )
    if c is not None:
        print(f"ratio c/a: {c.rps / a.rps:.2f}  (target >= 0.15)")
    else:
        print("ratio c/a: not measured (see above)")
    if any(r is not None and r.errors for r in results.values()):
        print("WARNING: some requests failed; the numbers above are not valid")


if __name__ == "__main__":
    main()
