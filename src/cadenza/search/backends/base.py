"""What both backends share: the relational half of the index (documents, exact keys, artists, vocabulary)
and the SQL around the one thing that differs, the full-text match."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from cadenza.search.document import Document, Field, Kind, term_row
from cadenza.search.ranking import Level
from cadenza.search.similarity import MIN_SIMILARITY, similarity, trigrams

ORDER = "d.popularity DESC, d.recency DESC, d.id DESC"
MAX_EXPANSIONS = 200  # vocabulary rows read per query word before the shared rules pick the best


@dataclass(frozen=True)
class Filters:
    kind: Kind | None = None
    genre: str | None = None  # folded keyword
    date_from: date | None = None
    date_to: date | None = None
    artist_id: int | None = None


@dataclass(frozen=True)
class Match:
    doc_id: int
    kind: Kind
    ref_id: int
    popularity: int


class IndexBackend:
    """One database's index. Subclasses supply the full-text half: writing it and matching a `Level`."""

    _binary = ""  # collation clause that orders words by code point, as Python does

    # --- the full-text half ------------------------------------------------------------------------------

    def _match_sql(self, level: Level) -> tuple[str, str, dict[str, Any]]:
        """(FROM clause naming the documents `d`, condition, parameters) matching `level`."""
        raise NotImplementedError

    def _write_text(self, session: Session, doc_id: int, doc: Document) -> None:
        raise NotImplementedError

    def _clear_text(self, session: Session) -> None:
        raise NotImplementedError

    def _add_grams(self, session: Session, rows: list[dict[str, object]]) -> None:
        """Trigram postings of new vocabulary words, for typo candidates."""
        grams = gram_rows(rows)
        if grams:
            session.execute(
                text(
                    "INSERT INTO search_term_grams (gram, length, term) VALUES (:gram, :length, :term) "
                    "ON CONFLICT DO NOTHING"
                ),
                grams,
            )

    def typo_candidates(self, session: Session, word: str, max_edits: int) -> list[str]:
        """Vocabulary words sharing trigrams with `word`, of a length within `max_edits`: pg_trgm's
        similarity ≥ 0.3, from trigram postings read only for the lengths that can qualify."""
        mine = trigrams(word)
        # similarity >= s needs at least s * (|a| + |b|) / (1 + s) shared trigrams, and |b| >= 1.
        least = max(1, int(MIN_SIMILARITY * (len(mine) + 1) / (1 + MIN_SIMILARITY)))
        rows = session.execute(
            text(
                "SELECT term FROM search_term_grams WHERE gram IN :grams AND length BETWEEN :lo AND :hi "
                "GROUP BY term HAVING COUNT(*) >= :least"
            ).bindparams(bindparam("grams", expanding=True)),
            {"grams": sorted(mine), "lo": len(word) - max_edits, "hi": len(word) + max_edits, "least": least},
        )
        scored = [(similarity(word, r[0]), r[0]) for r in rows]
        scored = [s for s in scored if s[0] >= MIN_SIMILARITY]
        scored.sort(key=lambda s: (-s[0], s[1]))
        return [t for _, t in scored[:MAX_EXPANSIONS]]

    def _date(self, value: date | None) -> object:
        return value

    # --- writing -----------------------------------------------------------------------------------------

    def write(self, session: Session, doc: Document) -> int:
        """Add or replace one document; returns its id."""
        params = self._doc_params(doc)
        doc_id = session.execute(
            text(
                "INSERT INTO search_documents (kind, ref_id, release_id, popularity, recency, genre, "
                "genre_label, release_date"
                + self._extra_columns()
                + ") VALUES (:kind, :ref_id, :release_id, "
                ":popularity, :recency, :genre, :genre_label, :release_date" + self._extra_values() + ") "
                "ON CONFLICT (kind, ref_id) DO UPDATE SET release_id = excluded.release_id, "
                "popularity = excluded.popularity, recency = excluded.recency, genre = excluded.genre, "
                "genre_label = excluded.genre_label, release_date = excluded.release_date"
                + self._extra_updates()
                + " RETURNING id"
            ),
            params,
        ).scalar_one()
        self._write_text(session, doc_id, doc)
        session.execute(text("DELETE FROM search_keys WHERE doc_id = :id"), {"id": doc_id})
        keys = [{"doc_id": doc_id, "field": int(f), "key": k} for f, k in doc.exact_keys()]
        if keys:
            session.execute(
                text("INSERT INTO search_keys (doc_id, field, key) VALUES (:doc_id, :field, :key)"), keys
            )
        session.execute(text("DELETE FROM search_doc_artists WHERE doc_id = :id"), {"id": doc_id})
        artists = [{"doc_id": doc_id, "artist_id": a} for a in dict.fromkeys(doc.artist_ids)]
        if artists:
            session.execute(
                text("INSERT INTO search_doc_artists (doc_id, artist_id) VALUES (:doc_id, :artist_id)"),
                artists,
            )
        self.add_terms(session, doc.terms())
        if doc.genre_key:
            session.execute(
                text(
                    "INSERT INTO search_genres (genre, label) VALUES (:genre, :label) "
                    "ON CONFLICT (genre) DO UPDATE SET label = excluded.label "
                    f"WHERE excluded.label{self._binary} < search_genres.label"
                ),
                {"genre": doc.genre_key, "label": (doc.genre or "")[:100]},
            )
        self._after_write(session, doc_id, doc)
        return doc_id

    def _after_write(self, session: Session, doc_id: int, doc: Document) -> None:
        """Whatever a backend derives from a written document and the vocabulary."""

    def _doc_params(self, doc: Document) -> dict[str, Any]:
        return {
            "kind": int(doc.kind),
            "ref_id": doc.ref_id,
            "release_id": doc.release_id,
            "popularity": doc.popularity,
            "recency": doc.recency,
            "genre": doc.genre_key,
            "genre_label": (doc.genre or "")[:100] or None,
            "release_date": self._date(doc.release_date),
            "t_title": doc.text(Field.title),
            "t_artist": doc.text(Field.artist),
            "t_release": doc.text(Field.release),
            "t_genre": doc.text(Field.genre),
        }

    def _extra_columns(self) -> str:
        return ""

    def _extra_values(self) -> str:
        return ""

    def _extra_updates(self) -> str:
        return ""

    def add_terms(self, session: Session, terms: dict[str, bool]) -> None:
        """Add words to the vocabulary (with phonetic keys); an abjad spelling adds its skeleton."""
        if not terms:
            return
        known = {
            row[0]: row[1]
            for row in session.execute(
                text("SELECT term, skel FROM search_terms WHERE term IN :terms").bindparams(
                    bindparam("terms", expanding=True)
                ),
                {"terms": list(terms)},
            )
        }
        rows = [
            term_row(t, abjad) for t, abjad in terms.items() if t not in known or (abjad and not known[t])
        ]
        self.insert_terms(session, rows)

    def insert_terms(self, session: Session, rows: list[dict[str, object]]) -> None:
        if not rows:
            return
        session.execute(
            text(
                "INSERT INTO search_terms (term, length, dm1, dm2, skel, grams) "
                "VALUES (:term, :length, :dm1, :dm2, :skel, :grams) "
                "ON CONFLICT (term) DO UPDATE SET skel = excluded.skel "
                "WHERE search_terms.skel IS NULL AND excluded.skel IS NOT NULL"
            ),
            rows,
        )
        self._add_grams(session, rows)

    def delete(self, session: Session, *, kind: Kind, ref_ids: Sequence[int]) -> None:
        """Remove documents (their keys and artists go with them, by cascade)."""
        if not ref_ids:
            return
        session.execute(
            text("DELETE FROM search_documents WHERE kind = :kind AND ref_id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            {"kind": int(kind), "ids": list(ref_ids)},
        )

    def clear(self, session: Session) -> None:
        """Empty the whole index, vocabulary included."""
        self._clear_text(session)
        for table in (
            "search_keys",
            "search_doc_artists",
            "search_documents",
            "search_terms",
            "search_genres",
        ):
            session.execute(text(f"DELETE FROM {table}"))

    def bulk_write(self, session: Session, docs: Sequence[Document], first_id: int) -> int:
        """Write many new documents with ids from `first_id` while the index is rebuilt; returns the next id.

        The vocabulary is left to the caller, which collects it across batches."""
        rows, keys, artists = [], [], []
        for i, doc in enumerate(docs):
            doc_id = first_id + i
            rows.append({**self._doc_params(doc), "id": doc_id})
            keys += [{"doc_id": doc_id, "field": int(f), "key": k} for f, k in doc.exact_keys()]
            artists += [{"doc_id": doc_id, "artist_id": a} for a in dict.fromkeys(doc.artist_ids)]
        if not rows:
            return first_id
        session.execute(
            text(
                "INSERT INTO search_documents (id, kind, ref_id, release_id, popularity, recency, genre, "
                "genre_label, release_date" + self._extra_columns() + ") VALUES (:id, :kind, :ref_id, "
                ":release_id, :popularity, :recency, :genre, :genre_label, :release_date"
                + self._extra_values()
                + ")"
            ),
            rows,
        )
        self._bulk_text(session, rows)
        if keys:
            session.execute(
                text("INSERT INTO search_keys (doc_id, field, key) VALUES (:doc_id, :field, :key)"), keys
            )
        if artists:
            session.execute(
                text("INSERT INTO search_doc_artists (doc_id, artist_id) VALUES (:doc_id, :artist_id)"),
                artists,
            )
        return first_id + len(rows)

    def _bulk_text(self, session: Session, rows: list[dict[str, Any]]) -> None:
        """The full-text half of `bulk_write` (rows carry `id` and the `t_*` field texts)."""

    def begin_bulk(self, session: Session) -> None:
        """Before a rebuild: empty the index, drop what is cheaper to build once at the end."""
        self.clear(session)

    def end_bulk(self, session: Session, next_id: int) -> None:
        """After a rebuild: rebuild what `begin_bulk` dropped and refresh planner statistics."""

    def _fill_genres(self, session: Session) -> None:
        """The display label of each genre key (the first in code-point order), after a rebuild."""
        session.execute(
            text(
                f"INSERT INTO search_genres (genre, label) SELECT genre, MIN(genre_label{self._binary}) "
                "FROM search_documents WHERE genre IS NOT NULL AND genre_label IS NOT NULL GROUP BY genre"
            )
        )

    def doc_ids(self, session: Session) -> int:
        """The next free document id."""
        return int(
            session.execute(text("SELECT COALESCE(MAX(id), 0) + 1 FROM search_documents")).scalar_one()
        )

    # --- reading -----------------------------------------------------------------------------------------

    @contextmanager
    def reading(self, session: Session) -> Iterator[None]:
        """Around the queries of one search (where a backend needs to steer its planner)."""
        yield

    def _attribute_filters(
        self, f: Filters, alias: str, *, genre: bool = True
    ) -> tuple[list[str], dict[str, Any]]:
        """Kind, genre and release-date conditions on the rows of `alias` (documents or postings)."""
        conds: list[str] = []
        params: dict[str, Any] = {}
        if f.kind is not None:
            conds.append(f"{alias}.kind = :f_kind")
            params["f_kind"] = int(f.kind)
        if genre and f.genre:
            conds.append(f"{alias}.genre = :f_genre")
            params["f_genre"] = f.genre
        if f.date_from:
            conds.append(f"{alias}.release_date >= :f_from")
            params["f_from"] = self._date(f.date_from)
        if f.date_to:
            conds.append(f"{alias}.release_date <= :f_to")
            params["f_to"] = self._date(f.date_to)
        return conds, params

    def _filters(
        self, f: Filters, exclude: Sequence[int] = (), *, genre: bool = True
    ) -> tuple[list[str], dict[str, Any]]:
        conds, params = self._attribute_filters(f, "d", genre=genre)
        if f.artist_id is not None:
            conds.append("d.id IN (SELECT doc_id FROM search_doc_artists WHERE artist_id = :f_artist)")
            params["f_artist"] = f.artist_id
        if exclude:
            conds.append("d.id NOT IN :f_exclude")
            params["f_exclude"] = list(exclude)
        return conds, params

    def _run(self, session: Session, sql: str, params: dict[str, Any]) -> list[Any]:
        stmt = text(sql)
        if "f_exclude" in params:
            stmt = stmt.bindparams(bindparam("f_exclude", expanding=True))
        return list(session.execute(stmt, params))

    def match(
        self, session: Session, level: Level, f: Filters, *, exclude: Sequence[int] = (), limit: int
    ) -> list[Match]:
        """Documents matching `level`, best first by popularity and recency."""
        source, cond, params = self._match_sql(level)
        conds, fparams = self._filters(f, exclude)
        sql = (
            f"SELECT d.id, d.kind, d.ref_id, d.popularity FROM {source} WHERE {' AND '.join([cond, *conds])} "
            f"ORDER BY {ORDER} LIMIT :limit"
        )
        rows = self._run(session, sql, {**params, **fparams, "limit": limit})
        return [Match(r[0], Kind(r[1]), r[2], int(r[3])) for r in rows]

    def match_exact(
        self, session: Session, key: str, f: Filters, *, exclude: Sequence[int] = (), limit: int
    ) -> list[Match]:
        """Documents one of whose fields is the whole query; titles first, then artists, then releases."""
        conds, fparams = self._filters(f, exclude)
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        sql = (
            "SELECT d.id, d.kind, d.ref_id, d.popularity FROM search_documents d "
            "JOIN (SELECT doc_id, MIN(field) AS field "
            f"FROM search_keys WHERE key = :key GROUP BY doc_id) k ON k.doc_id = d.id {where} "
            f"ORDER BY k.field, {ORDER} LIMIT :limit"
        )
        rows = self._run(session, sql, {**fparams, "key": key, "limit": limit})
        return [Match(r[0], Kind(r[1]), r[2], int(r[3])) for r in rows]

    def facets(
        self, session: Session, level: Level, f: Filters, *, cap: int
    ) -> tuple[list[tuple[str | None, str, int]], bool]:
        """(genre key, label, count) over at most `cap` matches of `level`, ignoring the genre filter, and
        whether those were all the matches."""
        source, cond, params = self._match_sql(level)
        conds, fparams = self._filters(f, genre=False)
        sql = (
            "SELECT s.genre, MIN(g.label), COUNT(*) FROM (SELECT d.genre FROM "
            f"{source} WHERE {' AND '.join([cond, *conds])} LIMIT :cap) s "
            "LEFT JOIN search_genres g ON g.genre = s.genre GROUP BY s.genre"
        )
        rows = self._run(session, sql, {**params, **fparams, "cap": cap})
        return [(r[0], r[1] or "", int(r[2])) for r in rows], sum(int(r[2]) for r in rows) < cap

    def _in_list(self, name: str, sql_type: str = "bigint") -> str:
        """`IN` a list bound as `name` (PostgreSQL binds one array, so the statement text is fixed and its
        plan is prepared once)."""
        return f"IN :{name}"

    def _bind_lists(self, stmt: Any, *names: str) -> Any:
        return stmt.bindparams(*(bindparam(n, expanding=True) for n in names))

    def display_rows(
        self, session: Session, *, tracks: Sequence[int], artists: Sequence[int], releases: Sequence[int]
    ) -> list[Any]:
        """(kind, id, title, genre, plays, release title, release date, artist name) for the results shown,
        in one round trip: a track has a row per credited artist (in credit order), a release one with its
        main artist."""
        stmt = text(
            f"SELECT {int(Kind.track)} AS kind, t.id, t.title, t.genre, t.play_count, r.title AS release, "
            "r.release_date, a.name, ta.position AS pos, a.id AS artist FROM tracks t "
            "LEFT JOIN releases r ON r.id = t.release_id LEFT JOIN track_artists ta ON ta.track_id = t.id "
            f"LEFT JOIN artists a ON a.id = ta.artist_id WHERE t.id {self._in_list('tracks')} UNION ALL "
            f"SELECT {int(Kind.artist)}, a.id, a.name, NULL, NULL, NULL, NULL, NULL, 0, 0 FROM artists a "
            f"WHERE a.id {self._in_list('artists')} UNION ALL "
            f"SELECT {int(Kind.release)}, r.id, r.title, NULL, NULL, NULL, r.release_date, a.name, 0, 0 "
            "FROM releases r LEFT JOIN artists a ON a.id = r.artist_id "
            f"WHERE r.id {self._in_list('releases')} "
            "ORDER BY kind, id, pos, artist"
        )
        rows = session.execute(
            self._bind_lists(stmt, "tracks", "artists", "releases"),
            {"tracks": list(tracks), "artists": list(artists), "releases": list(releases)},
        )
        return [r[:8] for r in rows]

    def phonetic_terms(
        self, session: Session, word: str, keys: Sequence[str], skel: str | None
    ) -> list[tuple[str, bool]]:
        """Vocabulary words with one of these Double Metaphone keys, or this abjad skeleton (flagged True);
        those closest in length to `word` first, when there are more than can be considered."""
        if not keys and not skel:
            return []
        keys_in = self._in_list("keys", "text")
        stmt = text(
            "SELECT term, skel = :skel AND :by_skel, top_pop FROM search_terms "
            f"WHERE dm1 {keys_in} OR dm2 {keys_in} OR (skel = :skel AND :by_skel) "
            f"ORDER BY abs(length - :length), term{self._binary} LIMIT :limit"
        )
        rows = session.execute(
            self._bind_lists(stmt, "keys"),
            {
                "keys": list(keys),
                "skel": skel or "",
                "by_skel": bool(skel),
                "length": len(word),
                "limit": MAX_EXPANSIONS,
            },
        ).all()
        self._seen_words((r[0], int(r[2])) for r in rows)
        return [(r[0], bool(r[1])) for r in rows]

    def _seen_words(self, words: Iterable[tuple[str, int]]) -> None:
        """Vocabulary words a search has read, with their best popularity (for backends that keep them)."""


def gram_rows(rows: Iterable[dict[str, object]]) -> list[dict[str, object]]:
    """Trigram postings for vocabulary rows."""
    out = []
    for row in rows:
        term = str(row["term"])
        out.extend({"gram": g, "length": row["length"], "term": term} for g in trigrams(term))
    return out
