"""Search benchmark: the index against a naive `ILIKE '%q%'` scan, on PostgreSQL (1M) and SQLite (100k).

Builds a synthetic multi-script catalog (Faker locales: Latin, Cyrillic, Greek, Japanese, Chinese, Arabic,
Hebrew), rebuilds the index with `cadenza.search.service.reindex` (build time, index size), then times
`service.search` / `service.suggest` end to end (ranking, facets, highlights, display rows) for each query
kind, and the scan for a sample of the same queries (the scan reads every title: it is a latency baseline,
it finds nothing for phonetic or typo queries). Targets: p95 <= 20 ms per kind (suggest <= 10 ms on
PostgreSQL) and >= 50x faster than the scan.

Usage: .venv/bin/python bench/search.py [--pg-tracks 1000000] [--sqlite-tracks 100000] [--queries 300]
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
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from cadenza.db import migrate  # noqa: E402
from cadenza.db.engine import make_engine, make_session_factory, reading  # noqa: E402
from cadenza.search import service  # noqa: E402
from harness import pg_schema  # noqa: E402

PG_URL = os.environ.get("CADENZA_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_SCHEMA = "bench_search"
LOCALES = {  # share of artists per locale
    "en_US": 30, "de_DE": 8, "fr_FR": 8, "es_ES": 8, "it_IT": 5, "ru_RU": 10, "el_GR": 5,
    "ja_JP": 8, "zh_CN": 8, "ar_AA": 5, "he_IL": 5,
}  # fmt: skip
GENRES = [
    "Rock", "Pop", "Jazz", "Classical", "Hip-Hop", "Electronic", "Folk", "Metal", "Soul", "Country",
    "Reggae", "Blues", "Latin", "K-Pop", "J-Pop", "Mandopop", "Chanson", "Tarab", "Ambient", "Punk",
]  # fmt: skip
KINDS = ("word", "phrase", "prefix", "phonetic", "typo", "filtered")


@dataclass
class Catalog:
    artists: list[str]
    titles: list[str]
    releases: list[str]
    track_artist: list[int]  # artist index per track
    track_release: list[int]


def generate(n_tracks: int, seed: int = 7) -> Catalog:
    """Names from Faker locales; titles of 1-4 words from the artist's locale; plays follow a power law."""
    from faker import Faker

    rnd = random.Random(seed)
    n_artists = max(10, n_tracks // 10)
    pools: dict[str, tuple[list[str], list[str]]] = {}
    for loc in LOCALES:
        fake = Faker(loc)
        fake.seed_instance(seed)
        names = list({fake.name() for _ in range(max(50, n_artists * LOCALES[loc] // 100 // 3))})
        words = list({w for _ in range(400) for w in fake.words(5)})
        pools[loc] = (names, words)
    weights = list(LOCALES.values())
    artist_loc = rnd.choices(list(LOCALES), weights=weights, k=n_artists)
    artists = [f"{rnd.choice(pools[loc][0])}" for loc in artist_loc]

    def title(loc: str) -> str:
        words = pools[loc][1]
        return " ".join(rnd.choice(words) for _ in range(rnd.choice((1, 2, 2, 3, 3, 4)))).capitalize()

    n_releases = max(5, n_tracks // 8)
    release_artist = [rnd.randrange(n_artists) for _ in range(n_releases)]
    releases = [title(artist_loc[a]) for a in release_artist]
    track_release = [rnd.randrange(n_releases) for _ in range(n_tracks)]
    track_artist = [release_artist[r] for r in track_release]
    titles = [title(artist_loc[a]) for a in track_artist]
    return Catalog(artists, titles, releases, track_artist, track_release)


def _plays(rnd: random.Random) -> int:
    return int(rnd.paretovariate(1.2) * 10)


def load_postgres(engine: Engine, cat: Catalog) -> None:
    """COPY the catalog in (ids are the list positions + 1)."""
    rnd = random.Random(1)
    now = datetime.now(UTC)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy("COPY artists (id, name, created_at) FROM STDIN") as cp:  # type: ignore[attr-defined]
            for i, name in enumerate(cat.artists):
                cp.write_row((i + 1, name, now))
        with cur.copy(  # type: ignore[attr-defined]
            "COPY releases (id, title, release_date, artist_id, created_at) FROM STDIN"
        ) as cp:
            for i, t in enumerate(cat.releases):
                day = date(1950 + rnd.randrange(75), 1 + rnd.randrange(12), 1 + rnd.randrange(28))
                cp.write_row((i + 1, t, day, None, now))
        with cur.copy(  # type: ignore[attr-defined]
            "COPY tracks (id, title, status, genre, play_count, release_id, created_at, updated_at) "
            "FROM STDIN"
        ) as cp:
            for i, t in enumerate(cat.titles):
                genre = GENRES[(cat.track_artist[i] * 7) % len(GENRES)]
                cp.write_row((i + 1, t, "ready", genre, _plays(rnd), cat.track_release[i] + 1, now, now))
        with cur.copy("COPY track_artists (track_id, artist_id, position, role) FROM STDIN") as cp:  # type: ignore[attr-defined]
            for i, a in enumerate(cat.track_artist):
                cp.write_row((i + 1, a + 1, 0, "main"))
        for table in ("artists", "releases", "tracks"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def load_sqlite(engine: Engine, cat: Catalog) -> None:
    rnd = random.Random(1)
    now = datetime.now(UTC).isoformat(sep=" ")
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.executemany(
            "INSERT INTO artists (id, name, created_at) VALUES (?, ?, ?)",
            ((i + 1, n, now) for i, n in enumerate(cat.artists)),
        )
        raw.executemany(
            "INSERT INTO releases (id, title, release_date, created_at) VALUES (?, ?, ?, ?)",
            (
                (i + 1, t, date(1950 + rnd.randrange(75), 1 + rnd.randrange(12), 1).isoformat(), now)
                for i, t in enumerate(cat.releases)
            ),
        )
        raw.executemany(
            "INSERT INTO tracks (id, title, status, genre, play_count, release_id, created_at, updated_at) "
            "VALUES (?, ?, 'ready', ?, ?, ?, ?, ?)",
            (
                (i + 1, t, GENRES[(cat.track_artist[i] * 7) % len(GENRES)], _plays(rnd),
                 cat.track_release[i] + 1, now, now)
                for i, t in enumerate(cat.titles)
            ),
        )  # fmt: skip
        raw.executemany(
            "INSERT INTO track_artists (track_id, artist_id, position, role) VALUES (?, ?, 0, 'main')",
            ((i + 1, a + 1) for i, a in enumerate(cat.track_artist)),
        )


# --- queries -------------------------------------------------------------------------------------------

_SOUNDS = [
    ("ph", "f"), ("ck", "k"), ("c", "k"), ("y", "i"), ("ll", "l"), ("ss", "s"), ("th", "t"),
    ("w", "v"), ("z", "s"), ("ie", "i"), ("ou", "u"), ("mm", "m"), ("tt", "t"), ("ei", "ai"),
]  # fmt: skip


def _latin(word: str) -> bool:
    return word.isascii() and word.isalpha()


def make_queries(cat: Catalog, n: int, seed: int = 11) -> dict[str, list[tuple[str, dict[str, object]]]]:
    """Queries of each kind drawn from the catalog itself, the way listeners would type them."""
    rnd = random.Random(seed)
    latin_titles = [t for t in cat.titles[:200_000] if all(_latin(w) for w in t.split())]
    out: dict[str, list[tuple[str, dict[str, object]]]] = {k: [] for k in KINDS}
    while min(len(v) for v in out.values()) < n:
        t = rnd.choice(cat.titles)
        words = t.split()
        lt = rnd.choice(latin_titles).split()
        name = cat.artists[rnd.randrange(len(cat.artists))]
        out["word"].append((rnd.choice(words), {}))
        if len(words) >= 2:
            i = rnd.randrange(len(words) - 1)
            out["phrase"].append((f'"{words[i]} {words[i + 1]}"', {}))
        w = rnd.choice(lt).lower()
        out["prefix"].append((w[: rnd.choice((2, 3, 4, 5))], {}))
        last = name.split()[-1].lower()
        if _latin(last) and len(last) >= 5:
            sounded = last
            for a, b in rnd.sample(_SOUNDS, len(_SOUNDS)):
                if a in sounded:
                    sounded = sounded.replace(a, b, 1)
                    break
            if sounded != last:
                out["phonetic"].append((sounded, {}))
        w = max(lt, key=len).lower()
        if len(w) >= 6:
            i = rnd.randrange(1, len(w) - 1)
            typo = w[:i] + w[i + 1] + w[i] + w[i + 2 :] if rnd.random() < 0.5 else w[:i] + w[i + 1 :]
            if typo != w:
                out["typo"].append((typo, {}))
        out["filtered"].append(
            (
                rnd.choice(words),
                {"genre": rnd.choice(GENRES), "date_from": date(1970, 1, 1), "date_to": date(2010, 1, 1)},
            )
        )
    return {k: v[:n] for k, v in out.items()}


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def time_index(
    sessions: sessionmaker[Session], kind: str, queries: list[tuple[str, dict[str, object]]]
) -> list[float]:
    out = []
    for q, kw in queries:
        with reading(sessions) as s:  # as the API does: a read transaction that ends with COMMIT
            start = time.perf_counter()
            if kind == "prefix":
                service.suggest(s, q=q, limit=10)
            else:
                service.search(s, q=q, limit=20, **kw)  # type: ignore[arg-type]
            out.append((time.perf_counter() - start) * 1000)
    return out


def time_scan(engine: Engine, queries: list[tuple[str, dict[str, object]]]) -> list[float]:
    op = "ILIKE" if engine.dialect.name == "postgresql" else "LIKE"  # SQLite's LIKE ignores ASCII case
    sql = text(
        f"SELECT id FROM tracks WHERE status = 'ready' AND title {op} :p ORDER BY play_count DESC LIMIT 20"
    )
    out = []
    with engine.connect() as conn:
        for q, _ in queries:
            start = time.perf_counter()
            conn.execute(sql, {"p": f"%{q.strip(chr(34))}%"}).all()
            out.append((time.perf_counter() - start) * 1000)
    return out


def index_size(engine: Engine) -> int:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            return int(
                conn.execute(
                    text(
                        "SELECT sum(pg_total_relation_size(c)) FROM unnest(ARRAY['search_documents', "
                        "'search_keys', 'search_doc_artists', 'search_terms', 'search_term_grams', "
                        "'search_postings', 'search_genres']::regclass[]) c"
                    )
                ).scalar_one()
            )
        try:
            return int(
                conn.execute(
                    text("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'search%' OR name LIKE '%search_%'")
                ).scalar_one()
                or 0
            )
        except Exception:
            return 0


def run(
    label: str, engine: Engine, n_tracks: int, n_queries: int, n_scan: int, report: Callable[[str], None]
) -> None:
    t0 = time.perf_counter()
    cat = generate(n_tracks)
    t1 = time.perf_counter()
    (load_postgres if engine.dialect.name == "postgresql" else load_sqlite)(engine, cat)
    t2 = time.perf_counter()
    sessions = make_session_factory(engine)
    with sessions() as s, s.begin():
        docs = service.reindex(s)
    service.settle(engine)  # as `cadenza search reindex` does after its transaction
    t3 = time.perf_counter()
    size = index_size(engine)
    report(f"\n## {label}: {n_tracks:,} tracks, {len(cat.artists):,} artists, {len(cat.releases):,} releases")
    report(f"generate {t1 - t0:.1f} s, load {t2 - t1:.1f} s, index build (reindex) {t3 - t2:.1f} s for "
           f"{docs:,} documents, index size {size / 2**20:.0f} MiB")  # fmt: skip
    queries = make_queries(cat, n_queries)
    for kind, qs in queries.items():  # warm caches, as a running server's would be
        time_index(sessions, kind, qs[:20])
    report("\n| kind | index p50 ms | index p95 ms | scan p50 ms | scan p95 ms | speed-up (p50) |")
    report("|---|---|---|---|---|---|")
    for kind, qs in queries.items():
        idx = time_index(sessions, kind, qs)
        scan = time_scan(engine, qs[:n_scan])
        p50, p95 = statistics.median(idx), _pct(idx, 95)
        s50, s95 = statistics.median(scan), _pct(scan, 95)
        report(f"| {kind} | {p50:.2f} | {p95:.2f} | {s50:.1f} | {s95:.1f} | {s50 / p50:.0f}x |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg-tracks", type=int, default=1_000_000)
    ap.add_argument("--sqlite-tracks", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=300, help="timed queries per kind")
    ap.add_argument("--scan-queries", type=int, default=30, help="queries per kind also run as a scan")
    ap.add_argument("--keep", action="store_true", help="keep the PostgreSQL schema afterwards")
    args = ap.parse_args()
    lines: list[str] = []

    def report(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    if args.sqlite_tracks:
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{tmp}/bench.db")
            migrate.upgrade(engine)
            run("SQLite", engine, args.sqlite_tracks, args.queries, args.scan_queries, report)
            engine.dispose()
    if args.pg_tracks:
        with pg_schema(PG_SCHEMA, url=PG_URL, replace=True, keep=args.keep) as engine:
            migrate.upgrade(engine)
            run("PostgreSQL", engine, args.pg_tracks, args.queries, args.scan_queries, report)
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "search.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
