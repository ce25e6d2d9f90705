"""Playlist benchmark: a 10,000-entry playlist on PostgreSQL (and SQLite), through the library service.

Seeds a catalog (tracks with artists, releases and stream rights, a tenth of them without one), a
listener, a 10,000-entry playlist built with `entries.add_tracks` in batches of 1,000, and a few hundred
smaller playlists around it; then times one call of each kind in turn, over and over, so that a busy
spell of a shared machine slows every kind alike:

- baseline: one primary-key `SELECT` of a track in a read transaction (the same session machinery);
- first page: `entries.page` of the first 100 entries, with totals, track facts, artwork and availability
  (nine releases in ten have a cover, one track in twenty its own);
- deep page: the 100 entries after the 9,800th (keyset paging costs the same at any depth);
- move (index): `entries.move_entry` of a random entry to a random index, committed;
- move (before): the same, just before a random other entry (what a drag and drop sends);
- move (always the same spot): every move just after one entry, so the gap there halves each time and
  is respaced every 16-32 moves (the worst case for gapped positions; the respaces are counted).

Each line prints p50/p95/p99 in milliseconds, p50/p95 as a ratio to the baseline's, and the CPU time
this process spent per call (SQLAlchemy and psycopg on the client side; the rest is the database and
waiting for a core). Targets on PostgreSQL: first page p95 <= 10 ms, move p95 <= 10 ms.

Usage: .venv/bin/python bench/playlists.py [--entries 10000] [--rounds 5] [--per-round 100] [--no-sqlite]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, event, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from cadenza.accounts.models import User  # noqa: E402
from cadenza.catalog.models import Artist, Artwork, Release, Track, TrackArtist, TrackStatus  # noqa: E402
from cadenza.catalog.visibility import Viewer  # noqa: E402
from cadenza.db import migrate  # noqa: E402
from cadenza.db.engine import make_engine, make_session_factory, reading, transaction  # noqa: E402
from cadenza.library import entries, playlists  # noqa: E402
from cadenza.library.models import Playlist, PlaylistEntry  # noqa: E402
from cadenza.rights.models import RightType, TrackRight  # noqa: E402
from harness import pg_schema  # noqa: E402

PG_URL = os.environ.get("CADENZA_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_SCHEMA = "bench_playlists"
CATALOG = 50_000
OTHER_PLAYLISTS = 300  # of 100 entries each, so the entries table is not just the one playlist


def seed(sessions: sessionmaker[Session], n_entries: int) -> tuple[Viewer, int, list[int]]:
    """The catalog, a listener and the big playlist; returns the listener, its id and the entry ids."""
    rnd = random.Random(3)
    now = datetime.now(UTC)
    with transaction(sessions) as s:
        s.execute(
            insert(Artist), [{"id": i, "name": f"Artist {i}", "created_at": now} for i in range(1, 2001)]
        )
        s.execute(insert(Artwork), [_artwork_row(i, now) for i in range(1, 5001)])
        s.execute(
            insert(Release),
            [
                {
                    "id": i,
                    "title": f"Release {i}",
                    "artist_id": 1 + i % 2000,
                    "artwork_id": i if i % 10 else None,  # a tenth of releases without a cover
                    "created_at": now,
                }
                for i in range(1, 5001)
            ],
        )
        s.execute(
            insert(Track),
            [
                {
                    "id": i,
                    "title": f"Track {i}",
                    "duration_sec": 120 + rnd.random() * 240,
                    "status": TrackStatus.ready,
                    "media_prefix": f"tracks/{i}/v1",
                    "release_id": 1 + i % 5000,
                    "artwork_id": 1 + (i * 7) % 5000 if i % 20 == 0 else None,  # a few with their own
                    "play_count": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(1, CATALOG + 1)
            ],
        )
        s.execute(
            insert(TrackArtist),
            [
                {"track_id": i, "artist_id": 1 + i % 2000, "position": 0, "role": "main"}
                for i in range(1, CATALOG + 1)
            ],
        )
        s.execute(
            insert(TrackRight),
            [
                {
                    "track_id": i,
                    "right_type": RightType.stream,
                    "territory": None,
                    "share_pct": 100,
                    "created_at": now,
                }
                for i in range(1, CATALOG + 1)
                if i % 10
            ],
        )
        user = User(email="bench@example.org", display_name="Bench", password_hash="-")
        s.add(user)
        s.flush()
        viewer = Viewer(user_id=user.id, territory="DE")
    with transaction(sessions) as s:
        for k in range(OTHER_PLAYLISTS):
            pid = playlists.create_playlist(s, viewer=viewer, name=f"Other {k}").id
            entries.add_tracks(
                s, playlist_id=pid, viewer=viewer, track_ids=rnd.sample(range(1, CATALOG + 1), 100)
            )
    with transaction(sessions) as s:
        big = playlists.create_playlist(s, viewer=viewer, name="Everything").id
    ids: list[int] = []
    for _ in range(0, n_entries, 1000):
        with transaction(sessions) as s:
            batch = [rnd.randint(1, CATALOG) for _ in range(min(1000, n_entries - len(ids)))]
            ids += entries.add_tracks(s, playlist_id=big, viewer=viewer, track_ids=batch).entry_ids
    return viewer, big, ids


def _artwork_row(i: int, now: datetime) -> dict[str, object]:
    """A cover rendered in every box (the rows only: the page reads no image)."""
    boxes = [{"size": b, "width": b, "height": b} for b in (64, 300, 600, 1200)]
    sha = f"{i:064x}"
    return {
        "id": i,
        "sha256": sha,
        "width": 1400,
        "height": 1400,
        "mime": "image/jpeg",
        "size_bytes": 1,
        "variants": boxes,
        "created_at": now,
    }


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run(
    name: str, engine: Engine, n_entries: int, rounds: int, per_round: int, report: Callable[[str], None]
) -> None:
    sessions = make_session_factory(engine)
    t0 = time.perf_counter()
    viewer, big, ids = seed(sessions, n_entries)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    report(
        f"## {name}: {n_entries:,}-entry playlist, {CATALOG:,} tracks "
        f"(seeded in {time.perf_counter() - t0:.1f} s; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )

    rnd = random.Random(5)
    now = datetime.now(UTC)
    with reading(sessions) as s:
        order = list(
            s.scalars(
                select(PlaylistEntry.id)
                .where(PlaylistEntry.playlist_id == big)
                .order_by(PlaylistEntry.position)
            )
        )
        deep_after = order[min(len(order) - 101, 9_800)]

    def baseline() -> None:
        with reading(sessions) as s:
            s.scalar(select(Track.id).where(Track.id == rnd.randint(1, CATALOG)))

    def first_page() -> None:
        with reading(sessions) as s:
            got = entries.page(s, playlist_id=big, viewer=viewer, at=now, limit=100)
            assert len(got.entries) == 100 and got.playlist.track_count == n_entries

    def deep_page() -> None:
        with reading(sessions) as s:
            assert (
                len(
                    entries.page(
                        s, playlist_id=big, viewer=viewer, at=now, after=deep_after, limit=100
                    ).entries
                )
                == 100
            )

    def move_index() -> None:
        with transaction(sessions) as s:
            entries.move_entry(
                s, playlist_id=big, viewer=viewer, entry_id=rnd.choice(ids), index=rnd.randrange(n_entries)
            )

    def move_before() -> None:
        mover, anchor = rnd.sample(ids, 2)
        with transaction(sessions) as s:
            entries.move_entry(s, playlist_id=big, viewer=viewer, entry_id=mover, before=anchor)

    anchor = ids[len(ids) // 2]

    def move_same_spot() -> None:  # the worst case for gaps: every move lands just after one entry
        mover = rnd.choice(ids)
        if mover != anchor:
            with transaction(sessions) as s:
                entries.move_entry(s, playlist_id=big, viewer=viewer, entry_id=mover, after=anchor)

    kinds: dict[str, Callable[[], None]] = {
        "baseline (PK select)": baseline,
        "first page (100)": first_page,
        "deep page (100 after 9,800)": deep_page,
        "move (to index)": move_index,
        "move (before entry)": move_before,
        "move (always the same spot)": move_same_spot,
    }
    respaces = 0

    def count_respace(_c, _cur, statement: str, *_a: object) -> None:  # type: ignore[no-untyped-def]
        nonlocal respaces
        respaces += "row_number()" in statement

    event.listen(engine, "before_cursor_execute", count_respace)
    times: dict[str, list[float]] = {k: [] for k in kinds}
    cpu: dict[str, list[float]] = {k: [] for k in kinds}  # this process's CPU time: the client's share
    for fn in kinds.values():  # warm up: plans, caches, connections
        for _ in range(20):
            fn()
    for _ in range(rounds * per_round):  # one call of each kind in turn: a busy spell hits every kind alike
        for kind, fn in kinds.items():
            t, c = time.perf_counter(), time.process_time()
            fn()
            times[kind].append((time.perf_counter() - t) * 1000)
            cpu[kind].append((time.process_time() - c) * 1000)
    event.remove(engine, "before_cursor_execute", count_respace)

    base50, base95 = statistics.median(times["baseline (PK select)"]), _pct(times["baseline (PK select)"], 95)
    head = f"{'operation':30} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'p50 x base':>11} {'p95 x base':>11}"
    report(head + f" {'client CPU p50':>15}")
    for kind, values in times.items():
        p50, p95, p99 = statistics.median(values), _pct(values, 95), _pct(values, 99)
        line = f"{kind:30} {p50:8.2f} {p95:8.2f} {p99:8.2f} {p50 / base50:11.1f} {p95 / base95:11.1f}"
        report(line + f" {statistics.median(cpu[kind]):12.2f} ms")
    moves = 3 * (rounds * per_round + 20)
    report(f"load average after: {os.getloadavg()[0]:.1f}")
    report(
        f"respaces during {moves:,} moves: {respaces} (each renumbers a window of entries, see positions.py)"
    )
    with reading(sessions) as s:
        p = s.get(Playlist, big)
        stored = s.scalar(
            select(PlaylistEntry.id)
            .where(PlaylistEntry.playlist_id == big)
            .order_by(PlaylistEntry.position.desc())
            .limit(1)
        )
        assert p is not None and p.track_count == n_entries and stored is not None
    if engine.dialect.name == "postgresql":
        page95, move95 = (
            _pct(times["first page (100)"], 95),
            max(_pct(times["move (to index)"], 95), _pct(times["move (before entry)"], 95)),
        )
        verdict = "met" if page95 <= 10 and move95 <= 10 else "MISSED"
        report(
            f"targets (first page p95 <= 10 ms, move p95 <= 10 ms): {verdict} "
            f"({page95:.2f} ms, {move95:.2f} ms)"
        )
    report("")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--per-round", type=int, default=100, help="timed calls per kind and round")
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the PostgreSQL schema afterwards")
    args = ap.parse_args()
    lines: list[str] = []

    def report(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    with pg_schema(PG_SCHEMA, url=PG_URL, replace=True, keep=args.keep) as engine:
        migrate.upgrade(engine)
        run("PostgreSQL", engine, args.entries, args.rounds, args.per_round, report)
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{tmp}/bench.db")
            migrate.upgrade(engine)
            run("SQLite", engine, args.entries, args.rounds, args.per_round, report)
            engine.dispose()
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "playlists.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
