"""What keeping each release's listed facts costs the writes that change tracks (migration 0015's
statement-level triggers on PostgreSQL), against the same writes with those triggers disabled, in
interleaved rounds on the same catalog (the Subsonic bench's 100,000 tracks over 10,000 releases).

Writes measured, each in a transaction rolled back afterwards:
- the royalty rollups' shape: one UPDATE adding plays to N tracks (`rollups._add_play_counts`), with N
  spread over distinct releases (the worst case: every row's release is updated);
- a track published (one row's status), what ingest does per track;
- a bulk COPY of new ready tracks into existing releases.

Usage: .venv/bin/python bench/release_listing.py [--tracks 100000] [--rows 10000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import pg_schema
from subsonic_sync import seed

TRIGGERS = (
    "release_listing_tracks_inserted",
    "release_listing_tracks_deleted",
    "release_listing_tracks_updated",
)


def _timed(raw, sql: str, params: tuple = (), copy_rows: str | None = None) -> float:  # type: ignore[no-untyped-def]
    """Seconds one statement takes inside a transaction that is then rolled back."""
    with raw.cursor() as cur:
        started = time.perf_counter()
        if copy_rows is None:
            cur.execute(sql, params)
        else:
            with cur.copy(sql) as copy:
                copy.write(copy_rows)
        took = time.perf_counter() - started
    raw.rollback()
    return took


def _triggers(raw, on: bool) -> None:  # type: ignore[no-untyped-def]
    with raw.cursor() as cur:
        for name in TRIGGERS:
            cur.execute(f"ALTER TABLE tracks {'ENABLE' if on else 'DISABLE'} TRIGGER {name}")
    raw.commit()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tracks", type=int, default=100_000)
    ap.add_argument("--rows", type=int, default=10_000, help="tracks a rollup's play-count UPDATE touches")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with pg_schema(f"bench_listing_{uuid.uuid4().hex[:8]}") as engine:
        seed(engine, args.tracks)
        releases = max(args.tracks // 10, 1)
        new_rows = "".join(
            f"{args.tracks + i}\tnew {i}\t200\tready\tp/{i}\t{1 + i % releases}\t1\tJazz\t0\tnow()\tnow()\n"
            for i in range(1, 1001)
        ).replace("now()", "2026-11-30 12:00:00+00")
        writes = {
            f"rollup: plays added to {args.rows:,} tracks (one UPDATE)": (
                "UPDATE tracks SET play_count = play_count + 1 WHERE id <= %s",
                (args.rows,),
                None,
            ),
            "ingest: one track published (status)": (
                "UPDATE tracks SET status = 'ready', stage = NULL WHERE id = %s",
                (args.tracks // 2,),
                None,
            ),
            "COPY of 1,000 new ready tracks": (
                "COPY tracks (id, title, duration_sec, status, media_prefix, release_id, track_number, genre,"
                " play_count, created_at, updated_at) FROM STDIN",
                (),
                new_rows,
            ),
        }
        raw = engine.raw_connection().driver_connection
        try:
            times: dict[tuple[str, bool], list[float]] = {}
            for _ in range(args.rounds):
                for on in (True, False):
                    _triggers(raw, on)
                    for name, (sql, params, rows) in writes.items():
                        # the best of three: the first after ENABLE/DISABLE also plans (and compiles the
                        # trigger functions), a cost a pooled connection pays once
                        best = min(_timed(raw, sql, params, rows) for _ in range(3))
                        times.setdefault((name, on), []).append(best)
            _triggers(raw, True)
        finally:
            raw.close()
        print(f"PostgreSQL, {args.tracks:,} tracks over {releases:,} releases; {args.rounds} interleaved "
              f"rounds, each round's best of 3, medians; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
        for name in writes:
            with_t, without = statistics.median(times[(name, True)]), statistics.median(times[(name, False)])
            print(f"  {name:48} with the triggers {with_t * 1000:8.2f} ms, without {without * 1000:8.2f} ms, "
                  f"ratio {with_t / without:5.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
