"""SQLite: an FTS5 table (unicode61 words, prefix indexes) beside the documents."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from cadenza.search.backends.base import IndexBackend, gram_rows
from cadenza.search.document import Document, Field
from cadenza.search.ranking import Clause, Level

_DOC_COLUMNS = (
    "kind", "ref_id", "release_id", "popularity", "recency", "genre", "genre_label", "release_date",
)  # fmt: skip


def fts_query(level: Level) -> str:
    """The FTS5 MATCH expression for a level; every term is quoted, so no word is taken for an operator."""
    return " AND ".join(_clause(c) for c in level)


def _clause(c: Clause) -> str:
    if c.phrase:
        return '"' + " ".join(c.phrase) + '"'
    return "(" + " OR ".join(f'"{a.term}"*' if a.prefix else f'"{a.term}"' for a in c.alts) + ")"


class SqliteIndex(IndexBackend):
    def _date(self, value: date | None) -> object:
        return value.isoformat() if value else None  # SQLAlchemy's Date stores ISO text on SQLite

    def _match_sql(self, level: Level) -> tuple[str, str, dict[str, Any]]:
        return (
            "search_fts JOIN search_documents d ON d.id = search_fts.rowid",
            "search_fts MATCH :fts",
            {"fts": fts_query(level)},
        )

    def _write_text(self, session: Session, doc_id: int, doc: Document) -> None:
        session.execute(text("DELETE FROM search_fts WHERE rowid = :id"), {"id": doc_id})
        session.execute(
            text(
                "INSERT INTO search_fts (rowid, title, artists, release, genre) "
                "VALUES (:id, :title, :artists, :release, :genre)"
            ),
            {
                "id": doc_id,
                "title": doc.text(Field.title),
                "artists": doc.text(Field.artist),
                "release": doc.text(Field.release),
                "genre": doc.text(Field.genre),
            },
        )

    def _bulk_text(self, session: Session, rows: list[dict[str, Any]]) -> None:
        session.execute(
            text(
                "INSERT INTO search_fts (rowid, title, artists, release, genre) "
                "VALUES (:id, :t_title, :t_artist, :t_release, :t_genre)"
            ),
            rows,
        )

    def _clear_text(self, session: Session) -> None:
        session.execute(text("DELETE FROM search_fts"))

    def bulk_write(self, session: Session, docs: Sequence[Document], first_id: int) -> int:
        """The rebuild through the sqlite3 cursor directly: SQLAlchemy's per-row parameter work would
        take longer than SQLite's own."""
        raw = session.connection().connection.driver_connection
        assert raw is not None
        rows, fts, keys, artists = [], [], [], []
        for i, doc in enumerate(docs):
            p = self._doc_params(doc)
            doc_id = first_id + i
            rows.append((doc_id, *(p[c] for c in _DOC_COLUMNS)))
            fts.append((doc_id, p["t_title"], p["t_artist"], p["t_release"], p["t_genre"]))
            keys += [(doc_id, int(f), k) for f, k in doc.exact_keys()]
            artists += [(doc_id, a) for a in dict.fromkeys(doc.artist_ids)]
        marks = ", ".join("?" * (len(_DOC_COLUMNS) + 1))
        raw.executemany(
            f"INSERT INTO search_documents (id, {', '.join(_DOC_COLUMNS)}) VALUES ({marks})", rows
        )
        raw.executemany(
            "INSERT INTO search_fts (rowid, title, artists, release, genre) VALUES (?, ?, ?, ?, ?)", fts
        )
        raw.executemany("INSERT INTO search_keys (doc_id, field, key) VALUES (?, ?, ?)", keys)
        raw.executemany("INSERT INTO search_doc_artists (doc_id, artist_id) VALUES (?, ?)", artists)
        return first_id + len(rows)

    def insert_terms(self, session: Session, rows: list[dict[str, object]]) -> None:
        if len(rows) < 1000:
            super().insert_terms(session, rows)
            return
        raw = session.connection().connection.driver_connection
        assert raw is not None
        raw.executemany(
            "INSERT OR IGNORE INTO search_terms (term, length, dm1, dm2, skel, grams) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            ((r["term"], r["length"], r["dm1"], r["dm2"], r["skel"], r["grams"]) for r in rows),
        )
        raw.executemany(
            "INSERT OR IGNORE INTO search_term_grams (gram, length, term) VALUES (?, ?, ?)",
            ((g["gram"], g["length"], g["term"]) for g in gram_rows(rows)),
        )

    def end_bulk(self, session: Session, next_id: int) -> None:
        session.execute(text("INSERT INTO search_fts (search_fts) VALUES ('optimize')"))
        self._fill_genres(session)
        session.execute(text("ANALYZE"))
