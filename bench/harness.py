"""What the benchmarks share: a PostgreSQL schema made for one run and dropped after it, a server started
and waited for, and stopped with everything it spawned, and wrk runs read back.

Imported by the scripts beside it (`python bench/x.py` puts bench/ first on the path)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from cadenza.accounts import service as accounts  # noqa: E402
from cadenza.accounts.models import User  # noqa: E402
from cadenza.catalog.models import Track, TrackStatus, TrackVariant  # noqa: E402
from cadenza.config import Accounts  # noqa: E402
from cadenza.db import migrate  # noqa: E402
from cadenza.db.engine import make_engine, make_session_factory  # noqa: E402
from cadenza.rights.models import RightsHolder, RightType, TrackRight  # noqa: E402

PG = os.environ.get("CADENZA_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def schema_url(schema: str, url: str = PG) -> str:
    """The database URL a server (`CADENZA_DATABASE_URL`) uses to work in `schema` only."""
    return f"{url}?options=-csearch_path%3D{schema}"


@contextlib.contextmanager
def pg_schema(schema: str, *, url: str = PG, replace: bool = False, keep: bool = False) -> Iterator[Engine]:
    """An engine working in a new schema `schema` (its `search_path`), dropped with everything in it
    when the block ends, however it ends, unless `keep`. `replace`: a schema of that name left by an
    earlier run (a fixed name, or one kept for inspection) is dropped first."""
    admin = make_engine(url)
    with admin.begin() as c:
        if replace:
            c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        if not keep:
            with admin.begin() as c:
                c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def seed_streamable(
    engine: Engine,
    n: int,
    *,
    variant: Callable[[Track], TrackVariant],
    extra: Callable[[Session, Track], None] | None = None,
    analyze: Sequence[str] = (),
) -> tuple[int, str, int]:
    """Migrate `engine`'s schema and fill it with `n` ready tracks, each with a worldwide stream right, a
    DE download right, the variant `variant` makes and whatever `extra` adds, and one listener. Returns
    the first track's id (the others follow it), the listener's bearer token and id."""
    migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    with sessions() as s, s.begin():
        holder = RightsHolder(name="Bench Label")
        s.add(holder)
        s.flush()
        tracks = [
            Track(
                title=f"Track {i}", status=TrackStatus.ready, duration_sec=240.0, media_prefix=f"tracks/{i}/v"
            )
            for i in range(n)
        ]
        s.add_all(tracks)
        s.flush()
        for t in tracks:
            t.media_prefix = f"tracks/{t.id}/abcdef0123456789"
            t.waveform_key = f"{t.media_prefix}/waveform.json"
            s.add(TrackRight(track_id=t.id, right_type=RightType.stream, holder_id=holder.id))
            s.add(
                TrackRight(track_id=t.id, right_type=RightType.download, territory="DE", holder_id=holder.id)
            )
            s.add(variant(t))
            if extra is not None:
                extra(s, t)
        user = accounts.register(
            s, email="bench@example.org", password="bench password", display_name=None, cfg=Accounts()
        )
        token = accounts.issue_token(s, user=s.get(User, user.id), ttl=timedelta(hours=2)).token  # type: ignore[arg-type]
        first, user_id = tracks[0].id, user.id
    # A catalog that has been there a while: vacuumed and analyzed (otherwise autovacuum does it during
    # the first measured round, on a 2-core machine shared with the server and wrk). Only the tables
    # seeded here: analyzing the empty playback tables would tell the planner they are empty for good,
    # and the foreign-key checks of the first inserts would then scan them (see recorder.py).
    seeded = ("tracks", "track_rights", "track_variants", "rights_holders", "users", "auth_tokens", *analyze)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in seeded:
            conn.execute(text(f"VACUUM ANALYZE {table}"))
    return first, token, user_id


def start_server(
    cmd: Sequence[str], *, env: dict[str, str], port: int, cwd: Path | None = None, tries: int = 100
) -> subprocess.Popen[bytes]:
    """Run a server (its own process group, output discarded) and wait until `/api/health` on `port`
    answers 200, up to `tries` polls; a server that never answers is left for the caller's checks.
    A port already taken stops the run first (another server there would answer for this one)."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            sys.exit(f"port {port} is already taken (another server?): stop it first")
    server = subprocess.Popen(
        list(cmd),
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        for _ in range(tries):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
    except BaseException:
        stop(server)
        raise
    return server


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End a server and whatever it spawned (Granian workers): its own process group, which it leads;
    SIGTERM, then SIGKILL after 10 s."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@dataclass(frozen=True)
class WrkRun:
    rps: float
    requests: int
    seconds: float
    p99_ms: float  # from a script whose done() prints "P99_US <n>"; NaN from any other
    non2xx: int


def wrk(
    url: str,
    script: Path,
    *,
    duration: int,
    connections: int,
    threads: int = 2,
    timeout: str = "10s",
    report: bool = True,
) -> WrkRun:
    """One wrk run with a Lua `script`. With `report`, a "DIST ..." line the script prints and a count of
    non-2xx answers are shown on stderr."""
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", timeout, "-s", str(script),
         url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    done = re.search(r"(\d+) requests in ([\d.]+)s", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"P99_US (\d+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    assert done and rps, out
    run = WrkRun(
        rps=float(rps.group(1)),
        requests=int(done.group(1)),
        seconds=float(done.group(2)),
        p99_ms=int(p99.group(1)) / 1000 if p99 else float("nan"),
        non2xx=int(errors.group(1)) if errors else 0,
    )
    if report:
        if dist := re.search(r"DIST .*", out):
            print("  latency (us):", dist.group(0), file=sys.stderr)
        if run.non2xx:
            print(f"  warning: {run.non2xx} non-2xx responses", file=sys.stderr)
    return run
