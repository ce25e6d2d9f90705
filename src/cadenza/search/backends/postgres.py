"""PostgreSQL: a weighted tsvector per document under a GIN index; pg_trgm over the vocabulary for typos."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from cadenza.search.backends.base import MAX_EXPANSIONS, ORDER, Filters, IndexBackend, Match
from cadenza.search.document import Document, Kind
from cadenza.search.ranking import Clause, Level
from cadenza.search.similarity import MIN_SIMILARITY

# Title, artists, release, genre: the weight keeps a phrase inside one field, as FTS5 columns do.
WEIGHTS = "ABCD"
TSV = (
    "setweight(to_tsvector('simple', {t}title), 'A') || setweight(to_tsvector('simple', {t}artist), 'B') || "
    "setweight(to_tsvector('simple', {t}release), 'C') || setweight(to_tsvector('simple', {t}genre), 'D')"
)
# Dropped before a rebuild and created after it: one sort-based build is much faster than a million inserts.
BULK_INDEXES = {
    "ix_search_documents_tsv": "ON search_documents USING gin (tsv) WITH (fastupdate = off)",
    "ix_search_documents_rank": "ON search_documents (kind, popularity DESC, recency DESC, id DESC)",
    "ix_search_documents_popular": "ON search_documents (popularity DESC, recency DESC, id DESC)",
    "ix_search_documents_genre": "ON search_documents (kind, genre, popularity DESC, recency DESC, id DESC)",
    "ix_search_documents_release": "ON search_documents (release_id)",
    "ix_search_keys_key": "ON search_keys (key)",
    "ix_search_doc_artists_artist": "ON search_doc_artists (artist_id)",
    "ix_search_terms_trgm": "ON search_terms USING gin (term {trgm}.gin_trgm_ops)",
}


def _trgm_schema(session: Session) -> str:
    """The schema pg_trgm was installed in (not necessarily on the search path), cached per connection."""
    info = session.connection().info
    if "search_trgm_schema" not in info:
        info["search_trgm_schema"] = session.execute(
            text("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'")
        ).scalar_one()
    return str(info["search_trgm_schema"])


def tsquery(level: Level) -> str:
    """The tsquery text for a level (terms are folded to [a-z0-9]+, so they need no quoting)."""
    return " & ".join(_clause(c) for c in level)


def _clause(c: Clause) -> str:
    if c.phrase:
        if len(c.phrase) == 1:
            return c.phrase[0]
        return "(" + " | ".join(" <-> ".join(f"{w}:{wt}" for w in c.phrase) for wt in WEIGHTS) + ")"
    return "(" + " | ".join(f"{a.term}:*" if a.prefix else a.term for a in c.alts) + ")"


# Matches gathered through the GIN index and ranked; a query with more than this walks the documents in
# rank order instead, which finds the best `limit` of a common word after ~limit * N / matches rows.
GATHER_CAP = 3000
PROBE_ROWS = 2000  # most popular documents tried first, for words common enough to fill a page there


class PostgresIndex(IndexBackend):
    _binary = ' COLLATE "C"'

    @contextmanager
    def reading(self, session: Session) -> Iterator[None]:
        """Keep the planner off two plans that are fast only when its guess of a match count is right: a
        full scan, and walking the rank index for a rare word (60,000 rows read for 21 at 100k documents).
        `match` re-enables the walk for a common word once the GIN index has shown it to be common."""
        session.execute(text("SET LOCAL enable_seqscan = off"))
        session.execute(text("SET LOCAL enable_indexscan = off"))
        try:
            yield
        finally:
            session.execute(text("RESET enable_seqscan"))
            session.execute(text("RESET enable_indexscan"))

    def match(
        self, session: Session, level: Level, f: Filters, *, exclude: Sequence[int] = (), limit: int
    ) -> list[Match]:
        source, cond, params = self._match_sql(level)
        conds, fparams = self._filters(f, exclude)
        params = {**params, **fparams, "limit": limit, "cap": GATHER_CAP, "probe": PROBE_ROWS}
        # First the most popular documents only: if `limit` of them match, they are the best matches of
        # all (anything further down is less played), found without touching the other matches.
        session.execute(text("SET LOCAL enable_indexscan = on"))
        try:
            rows = self._run(
                session,
                f"SELECT id, kind, ref_id, popularity FROM (SELECT d.* FROM {source} "
                f"WHERE {' AND '.join(conds) or 'TRUE'} ORDER BY {ORDER} LIMIT :probe) d "
                f"WHERE {cond} ORDER BY {ORDER} LIMIT :limit",
                params,
            )
        finally:
            session.execute(text("SET LOCAL enable_indexscan = off"))
        if len(rows) < limit:
            # A rarer word: its matches come cheaply from the GIN index and are ranked here.
            where = " AND ".join([cond, *conds])
            rows = self._run(
                session,
                "SELECT id, kind, ref_id, popularity, count(*) OVER () FROM (SELECT d.id, d.kind, d.ref_id, "
                f"d.popularity, d.recency FROM {source} WHERE {where} LIMIT :cap) m "
                "ORDER BY popularity DESC, recency DESC, id DESC LIMIT :limit",
                params,
            )
            if rows and rows[0][4] >= GATHER_CAP:
                session.execute(text("SET LOCAL enable_indexscan = on"))
                try:
                    rows = self._run(
                        session,
                        f"SELECT d.id, d.kind, d.ref_id, d.popularity FROM {source} WHERE {where} "
                        f"ORDER BY {ORDER} LIMIT :limit",
                        params,
                    )
                finally:
                    session.execute(text("SET LOCAL enable_indexscan = off"))
        return [Match(r[0], Kind(r[1]), r[2], int(r[3])) for r in rows]

    def _match_sql(self, level: Level) -> tuple[str, str, dict[str, Any]]:
        return "search_documents d", "d.tsv @@ CAST(:tsq AS tsquery)", {"tsq": tsquery(level)}

    def _extra_columns(self) -> str:
        return ", tsv"

    def _extra_values(self) -> str:
        return ", " + TSV.format(t=":t_")

    def _extra_updates(self) -> str:
        return ", tsv = excluded.tsv"

    def _write_text(self, session: Session, doc_id: int, doc: Document) -> None:
        return None  # the tsvector is a column of the document row

    def _clear_text(self, session: Session) -> None:
        return None

    def typo_candidates(self, session: Session, word: str, max_edits: int) -> list[str]:
        trgm = _trgm_schema(session)
        rows = session.execute(
            text(
                f"SELECT term FROM search_terms WHERE term OPERATOR({trgm}.%) :w "
                f"AND {trgm}.similarity(term, :w) >= :sim AND length BETWEEN :lo AND :hi "
                f'ORDER BY {trgm}.similarity(term, :w) DESC, term COLLATE "C" LIMIT :limit'
            ),
            {
                "w": word,
                "sim": MIN_SIMILARITY,
                "lo": len(word) - max_edits,
                "hi": len(word) + max_edits,
                "limit": MAX_EXPANSIONS,
            },
        )
        return [r[0] for r in rows]

    # --- rebuild -----------------------------------------------------------------------------------------

    def begin_bulk(self, session: Session) -> None:
        for name in BULK_INDEXES:
            session.execute(text(f"DROP INDEX IF EXISTS {name}"))
        session.execute(text("TRUNCATE search_keys, search_doc_artists, search_documents, search_terms"))

    def end_bulk(self, session: Session, next_id: int) -> None:
        session.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        trgm = _trgm_schema(session)
        for name, definition in BULK_INDEXES.items():
            session.execute(text(f"CREATE INDEX {name} {definition.format(trgm=trgm)}"))
        session.execute(
            text("SELECT setval(pg_get_serial_sequence('search_documents', 'id'), :n, false)"), {"n": next_id}
        )
        for table in ("search_documents", "search_keys", "search_doc_artists", "search_terms"):
            session.execute(text(f"ANALYZE {table}"))

    def bulk_write(self, session: Session, docs: Sequence[Document], first_id: int) -> int:
        """COPY into the tables (and through a staging table for the tsvector), much faster than INSERTs."""
        if not docs:
            return first_id
        raw = session.connection().connection.driver_connection
        assert raw is not None
        session.execute(
            text(
                "CREATE TEMP TABLE IF NOT EXISTS search_stage (id bigint, kind smallint, ref_id bigint, "
                "release_id bigint, popularity bigint, recency integer, genre text, genre_label text, "
                "release_date date, t_title text, t_artist text, t_release text, t_genre text) "
                "ON COMMIT DROP"
            )
        )
        cols = (
            "id, kind, ref_id, release_id, popularity, recency, genre, genre_label, release_date, "
            "t_title, t_artist, t_release, t_genre"
        )
        keys, artists = [], []
        fields = cols.split(", ")[1:]
        with raw.cursor() as cur, cur.copy(f"COPY search_stage ({cols}) FROM STDIN") as cp:
            for i, doc in enumerate(docs):
                p = self._doc_params(doc)
                doc_id = first_id + i
                cp.write_row((doc_id, *(p[f] for f in fields)))
                keys += [(doc_id, int(f), k) for f, k in doc.exact_keys()]
                artists += [(doc_id, a) for a in dict.fromkeys(doc.artist_ids)]
        session.execute(
            text(
                "INSERT INTO search_documents (id, kind, ref_id, release_id, popularity, recency, genre, "
                "genre_label, release_date, tsv) SELECT id, kind, ref_id, release_id, popularity, recency, "
                f"genre, genre_label, release_date, {TSV.format(t='t_')} FROM search_stage"
            )
        )
        with raw.cursor() as cur:
            with cur.copy("COPY search_keys (doc_id, field, key) FROM STDIN") as cp:
                for row in keys:
                    cp.write_row(row)
            with cur.copy("COPY search_doc_artists (doc_id, artist_id) FROM STDIN") as cp:
                for row in artists:
                    cp.write_row(row)
        session.execute(text("TRUNCATE search_stage"))
        return first_id + len(docs)

    def insert_terms(self, session: Session, rows: list[dict[str, object]]) -> None:
        if len(rows) < 1000:
            super().insert_terms(session, rows)
            return
        raw = session.connection().connection.driver_connection
        assert raw is not None
        with (
            raw.cursor() as cur,
            cur.copy("COPY search_terms (term, length, dm1, dm2, skel, grams) FROM STDIN") as cp,
        ):
            for r in rows:
                cp.write_row((r["term"], r["length"], r["dm1"], r["dm2"], r["skel"], r["grams"]))
