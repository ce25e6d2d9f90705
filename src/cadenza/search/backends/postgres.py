"""PostgreSQL: impact-ordered postings for one-clause queries; a weighted tsvector per document under a GIN
index for phrases and several words."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from cadenza.search.backends.base import ORDER, Filters, IndexBackend, Match, gram_rows
from cadenza.search.document import Document, Field, Kind
from cadenza.search.ranking import Clause, Level

EXACT_FIELDS = (Field.title, Field.artist, Field.release)  # the order exact matches rank in
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
    "ix_search_terms_prefix": "ON search_terms (term varchar_pattern_ops)",
}
POSTING_INDEXES = {
    "ix_search_postings_rank": "ON search_postings (term, popularity DESC, recency DESC, doc_id DESC) "
    "INCLUDE (kind, ref_id, genre, release_date)",
    "ix_search_postings_doc": "ON search_postings (doc_id)",
}
POSTING_COLUMNS = "term, doc_id, kind, ref_id, popularity, recency, genre, release_date"
POSTING_ORDER = "popularity DESC, recency DESC, doc_id DESC"
# Whole-field keys are postings too, as `=<field><key>`: no word (always [a-z0-9]+) can look like one.
KEY_TERM = "'=' || k.field || k.key"
# Planner steering for the GIN queries, by name: (enable_seqscan, enable_indexscan).
PLANS = {"default": ("on", "on"), "gin": ("off", "off"), "walk": ("off", "on")}
_SET_PLAN = "SELECT set_config('enable_seqscan', :seq, true), set_config('enable_indexscan', :idx, true)"


def _single(level: Level, f: Filters) -> Clause | None:
    """The one clause of words a level consists of, when the postings can answer it alone."""
    if len(level) == 1 and not level[0].phrase and f.artist_id is None:
        return level[0]
    return None


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
PROBE_ROWS = 500  # most popular documents tried first, for words common enough to fill a page there
# Words whose best postings one statement reads, the most popular words first; the next batch is read
# only while a word left could still hold a better match than the worst of those found.
POSTING_BATCH = 24


@dataclass(frozen=True)
class _Word:
    term: str
    top_pop: int  # at least the popularity of every document holding the word


class PostgresIndex(IndexBackend):
    """Queries of one clause of words (every tier of a one-word query, with any filter but an artist) read
    the impact-ordered postings: the best matches of each word are the first entries of its index range,
    so a page costs about `limit` index entries per word, however many documents match. Other queries
    (phrases, several words, an artist filter) intersect through the GIN index of the documents."""

    _binary = ' COLLATE "C"'

    def __init__(self) -> None:
        # What one search has read of the vocabulary (a backend lives for one search).
        self._words_of: dict[Clause, list[_Word]] = {}
        self._top_pop: dict[str, int | None] = {}  # word -> best popularity; None: not a word
        self._prefixed: dict[str, dict[str, int]] = {}  # prefix -> the words it starts
        self._mode = "default"  # planner steering in force (see `_plan`)

    @contextmanager
    def reading(self, session: Session) -> Iterator[None]:
        try:
            yield
        finally:
            self._plan(session, "default")

    def _plan(self, session: Session, mode: str) -> None:
        """Steer the planner for the queries that go through the GIN index (one statement, only when the
        mode changes; `reading` puts the defaults back). `gin`: no full scan, and no walk of the rank
        index for a rare word (60,000 rows read for 21 at 100k documents); index-only scans stay on.
        `walk`: walking the rank index, for the most popular documents or a word shown to be common.
        The postings queries need no steering: they are index-only scans of one range per word."""
        if mode != self._mode:
            seq, idx = PLANS[mode]
            session.execute(
                text(_SET_PLAN),
                {"seq": seq, "idx": idx},
            )
            self._mode = mode

    def match_exact(
        self, session: Session, key: str, f: Filters, *, exclude: Sequence[int] = (), limit: int
    ) -> list[Match]:
        """The postings of `=<field><key>` for title, artist and release, read best first; a document keeps
        its best field. Each field reads up to 3 x limit entries: a document shows up in at most three
        fields, so the first `limit` distinct documents in (field, rank) order are always among them."""
        if f.artist_id is not None:
            self._plan(session, "gin")
            return super().match_exact(session, key, f, exclude=exclude, limit=limit)
        conds, params = self._posting_filters(f, exclude)
        rows = self._run(
            session,
            "SELECT x.field, x.doc_id, x.kind, x.ref_id, x.popularity, x.recency "
            "FROM unnest(CAST(:terms AS text[]), ARRAY[0, 1, 2]) t(term, field) CROSS JOIN LATERAL (SELECT "
            "t.field, p.doc_id, p.kind, p.ref_id, p.popularity, p.recency FROM search_postings p "
            f"WHERE {' AND '.join(conds)} ORDER BY {POSTING_ORDER} LIMIT :per_field) x",
            {**params, "terms": [f"={int(fld)}{key}" for fld in EXACT_FIELDS], "per_field": 3 * limit},
        )
        rows.sort(key=lambda r: (r[0], -r[4], -r[5], -r[1]))
        out: dict[int, Match] = {}
        for r in rows:
            if r[1] not in out:
                out[r[1]] = Match(r[1], Kind(r[2]), r[3], int(r[4]))
                if len(out) == limit:
                    break
        return list(out.values())

    def _in_list(self, name: str, sql_type: str = "bigint") -> str:
        return f"= ANY(CAST(:{name} AS {sql_type}[]))"

    def _bind_lists(self, stmt: Any, *names: str) -> Any:
        return stmt

    def _posting_filters(
        self, f: Filters, exclude: Sequence[int], *, genre: bool = True
    ) -> tuple[list[str], dict[str, Any]]:
        """Conditions on a posting `p` for one word `t.term` (the first condition, for callers to replace)."""
        conds, params = self._attribute_filters(f, "p", genre=genre)
        conds.insert(0, "p.term = t.term")
        if exclude:
            conds.append("p.doc_id <> ALL(CAST(:f_exclude_ids AS bigint[]))")
            params["f_exclude_ids"] = list(exclude)
        return conds, params

    def match(
        self, session: Session, level: Level, f: Filters, *, exclude: Sequence[int] = (), limit: int
    ) -> list[Match]:
        clause = _single(level, f)
        if clause is None:
            return self._match_many(session, level, f, exclude=exclude, limit=limit)
        words = self._words(session, clause)
        conds, params = self._posting_filters(f, exclude)
        # Once a page is full, a later word's entries below the worst match kept cannot get in: its range
        # is read only down to there (one index descent for most words).
        conds.append("p.popularity >= :floor")
        found: dict[int, Match] = {}
        order: dict[int, tuple[int, int, int]] = {}
        done, batch, floor = 0, POSTING_BATCH, 0
        while done < len(words):
            chunk = words[done : done + batch]
            done += len(chunk)
            rows = self._run(
                session,
                "SELECT DISTINCT x.doc_id, x.kind, x.ref_id, x.popularity, x.recency "
                "FROM unnest(CAST(:terms AS text[])) t(term) CROSS JOIN LATERAL (SELECT p.doc_id, p.kind, "
                f"p.ref_id, p.popularity, p.recency FROM search_postings p WHERE {' AND '.join(conds)} "
                f"ORDER BY {POSTING_ORDER} LIMIT :limit) x ORDER BY {POSTING_ORDER} LIMIT :limit",
                {**params, "terms": [w.term for w in chunk], "limit": limit, "floor": floor},
            )
            for r in rows:
                found[r[0]] = Match(r[0], Kind(r[1]), r[2], int(r[3]))
                order[r[0]] = (int(r[3]), int(r[4]), int(r[0]))
            best = sorted(found, key=order.__getitem__, reverse=True)[:limit]
            found = {i: found[i] for i in best}
            # Words come most popular first: once the worst match kept beats the best any word left could
            # offer, the page is final.
            if len(best) == limit:
                floor = order[best[-1]][0]
                if done < len(words) and floor > words[done].top_pop:
                    break
            batch *= 4
        return list(found.values())

    def facets(
        self, session: Session, level: Level, f: Filters, *, cap: int
    ) -> tuple[list[tuple[str | None, str, int]], bool]:
        clause = _single(level, f)
        if clause is None:
            self._plan(session, "gin")
            return super().facets(session, level, f, cap=cap)
        conds, params = self._posting_filters(f, (), genre=False)
        conds[0] = "p.term = ANY(CAST(:terms AS text[]))"
        rows = self._run(
            session,
            "SELECT s.genre, MIN(g.label), COUNT(DISTINCT s.doc_id), COUNT(*) FROM (SELECT p.doc_id, p.genre "
            f"FROM search_postings p WHERE {' AND '.join(conds)} LIMIT :cap) s "
            "LEFT JOIN search_genres g ON g.genre = s.genre GROUP BY s.genre",
            {**params, "terms": [w.term for w in self._words(session, clause)], "cap": cap},
        )
        return [(r[0], r[1] or "", int(r[2])) for r in rows], sum(int(r[3]) for r in rows) < cap

    def _words(self, session: Session, clause: Clause) -> list[_Word]:
        """The vocabulary words a clause matches (its prefixes expanded), the most popular first.

        Each tier's clause adds alternatives to the previous tier's, so what one search has looked up
        (words, prefixes, sound-alikes from `phonetic_terms`) is kept and only the rest is read."""
        if clause not in self._words_of:
            exact = sorted({a.term for a in clause.alts if not a.prefix} - self._top_pop.keys())
            prefixes = sorted({a.term for a in clause.alts if a.prefix} - self._prefixed.keys())
            if exact or prefixes:
                self._lookup(session, exact, prefixes)
            found = {a.term: self._top_pop[a.term] for a in clause.alts if not a.prefix}
            for a in clause.alts:
                if a.prefix:
                    found.update(self._prefixed[a.term])
            known = [(t, p) for t, p in found.items() if p is not None]
            self._words_of[clause] = [_Word(t, p) for t, p in sorted(known, key=lambda w: (-w[1], w[0]))]
        return self._words_of[clause]

    def _lookup(self, session: Session, exact: list[str], prefixes: list[str]) -> None:
        parts = ["SELECT NULL, term, top_pop FROM search_terms WHERE term = ANY(CAST(:exact AS text[]))"]
        params: dict[str, Any] = {"exact": exact}
        for i, prefix in enumerate(prefixes):
            parts.append(f"SELECT {i}, term, top_pop FROM search_terms WHERE term LIKE :p{i}")
            params[f"p{i}"] = prefix + "%"  # words are [a-z0-9]+: nothing to escape
        for term in exact:
            self._top_pop[term] = None  # not in the vocabulary, unless the read below finds it
        for prefix in prefixes:
            self._prefixed[prefix] = {}
        for source, term, top_pop in session.execute(text(" UNION ALL ".join(parts)), params):
            if source is None:
                self._top_pop[term] = int(top_pop)
            else:
                self._prefixed[prefixes[source]][term] = int(top_pop)

    def _seen_words(self, words: Iterable[tuple[str, int]]) -> None:
        """Sound-alikes read for the phonetic tier: that tier's lookup of their popularity is then free."""
        self._top_pop.update(words)

    def _match_many(
        self, session: Session, level: Level, f: Filters, *, exclude: Sequence[int], limit: int
    ) -> list[Match]:
        source, cond, params = self._match_sql(level)
        conds, fparams = self._filters(f, exclude)
        params = {**params, **fparams, "limit": limit, "cap": GATHER_CAP, "probe": PROBE_ROWS}
        # First the most popular documents only: if `limit` of them match, they are the best matches of
        # all (anything further down is less played), found without touching the other matches. (The
        # planner's own choice when it is free to walk the rank index: LIMIT and an index in ORDER BY
        # order; after a gather has turned index scans off, they are turned back on.)
        if self._mode == "gin":
            self._plan(session, "walk")
        rows = self._run(
            session,
            f"SELECT id, kind, ref_id, popularity FROM (SELECT d.* FROM {source} "
            f"WHERE {' AND '.join(conds) or 'TRUE'} ORDER BY {ORDER} LIMIT :probe) d "
            f"WHERE {cond} ORDER BY {ORDER} LIMIT :limit",
            params,
        )
        if len(rows) < limit:
            # A rarer match: it comes cheaply from the GIN index and is ranked here.
            where = " AND ".join([cond, *conds])
            self._plan(session, "gin")
            rows = self._run(
                session,
                "SELECT id, kind, ref_id, popularity, count(*) OVER () FROM (SELECT d.id, d.kind, d.ref_id, "
                f"d.popularity, d.recency FROM {source} WHERE {where} LIMIT :cap) m "
                "ORDER BY popularity DESC, recency DESC, id DESC LIMIT :limit",
                params,
            )
            if rows and rows[0][4] >= GATHER_CAP:
                self._plan(session, "walk")
                rows = self._run(
                    session,
                    f"SELECT d.id, d.kind, d.ref_id, d.popularity FROM {source} WHERE {where} "
                    f"ORDER BY {ORDER} LIMIT :limit",
                    params,
                )
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
        session.execute(text("DELETE FROM search_postings"))

    def _after_write(self, session: Session, doc_id: int, doc: Document) -> None:
        """The document's postings, from its tsvector so they hold exactly the words the GIN index does;
        its words' best popularity raised to its own where that is higher."""
        session.execute(text("DELETE FROM search_postings WHERE doc_id = :id"), {"id": doc_id})
        session.execute(
            text(
                f"INSERT INTO search_postings ({POSTING_COLUMNS}) SELECT w.term, d.id, d.kind, d.ref_id, "
                "d.popularity, d.recency, d.genre, d.release_date FROM search_documents d, "
                "unnest(tsvector_to_array(d.tsv)) w(term) WHERE d.id = :id"
            ),
            {"id": doc_id},
        )
        session.execute(
            text(
                f"INSERT INTO search_postings ({POSTING_COLUMNS}) SELECT {KEY_TERM}, d.id, d.kind, d.ref_id, "
                "d.popularity, d.recency, d.genre, d.release_date FROM search_keys k "
                "JOIN search_documents d ON d.id = k.doc_id WHERE d.id = :id"
            ),
            {"id": doc_id},
        )
        session.execute(
            text(
                "UPDATE search_terms SET top_pop = :pop WHERE top_pop < :pop "
                "AND term IN (SELECT term FROM search_postings WHERE doc_id = :id)"
            ),
            {"id": doc_id, "pop": doc.popularity},
        )

    # --- rebuild -----------------------------------------------------------------------------------------

    def begin_bulk(self, session: Session) -> None:
        for name in BULK_INDEXES:
            session.execute(text(f"DROP INDEX IF EXISTS {name}"))
        for name in POSTING_INDEXES:
            session.execute(text(f"DROP INDEX IF EXISTS {name}"))
        session.execute(
            text(
                "TRUNCATE search_postings, search_keys, search_doc_artists, search_documents, search_terms, "
                "search_term_grams, search_genres"
            )
        )

    def end_bulk(self, session: Session, next_id: int) -> None:
        session.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        for name, definition in BULK_INDEXES.items():
            session.execute(text(f"CREATE INDEX {name} {definition}"))
        session.execute(
            text("SELECT setval(pg_get_serial_sequence('search_documents', 'id'), :n, false)"), {"n": next_id}
        )
        # Postings in index order, so an index-only scan's visibility checks read the heap in order too
        # until autovacuum marks the pages all-visible.
        session.execute(
            text(
                f"INSERT INTO search_postings ({POSTING_COLUMNS}) SELECT * FROM ("
                "SELECT w.term, d.id, d.kind, d.ref_id, d.popularity, d.recency, d.genre, d.release_date "
                "FROM search_documents d, unnest(tsvector_to_array(d.tsv)) w(term) UNION ALL "
                f"SELECT {KEY_TERM}, d.id, d.kind, d.ref_id, d.popularity, d.recency, d.genre, "
                "d.release_date FROM search_keys k JOIN search_documents d ON d.id = k.doc_id"
                ") p(term, doc_id) ORDER BY term, popularity DESC, recency DESC, doc_id DESC"
            )
        )
        for name, definition in POSTING_INDEXES.items():
            session.execute(text(f"CREATE INDEX {name} {definition}"))
        session.execute(
            text(
                "UPDATE search_terms t SET top_pop = m.top FROM (SELECT term, MAX(popularity) AS top "
                "FROM search_postings GROUP BY term) m WHERE m.term = t.term"
            )
        )
        self._fill_genres(session)
        for table in (
            "search_documents",
            "search_keys",
            "search_doc_artists",
            "search_terms",
            "search_postings",
        ):
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
        with raw.cursor() as cur, cur.copy("COPY search_term_grams (gram, length, term) FROM STDIN") as cp:
            for g in gram_rows(rows):
                cp.write_row((g["gram"], g["length"], g["term"]))
