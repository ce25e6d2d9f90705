"""Search service: keep the index in step with the catalog; answer searches and suggestions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from cadenza.catalog.models import Artist, Release, Track, TrackArtist
from cadenza.catalog.visibility import ANONYMOUS, is_listable, listable_track
from cadenza.errors import InvalidInput
from cadenza.search.backends import Filters, IndexBackend, Match, backend_for
from cadenza.search.document import Document, Kind, recency, term_row
from cadenza.search.folding import fold, fold_keyword
from cadenza.search.highlight import Highlighter
from cadenza.search.phonetic import MIN_LENGTH, metaphone_keys, skeleton
from cadenza.search.query import (
    MAX_RESULTS,
    ParsedQuery,
    decode_cursor,
    encode_cursor,
    parse_query,
    query_digest,
)
from cadenza.search.ranking import Alt, Clause, Expansions, Level, Tier, level
from cadenza.search.results import Facet, SearchHit, SearchPage, Suggestion
from cadenza.search.similarity import edit_distance, is_typo_of, max_edits, similarity

MAX_LIMIT = 100
MAX_SUGGESTIONS = 20
FACET_SAMPLE = 1000  # matches counted for facets and totals; beyond it totals are marked inexact
MAX_TERMS_PER_WORD = 20  # typo alternatives kept per query word (Elasticsearch keeps 50)
MAX_PHONETIC_PER_WORD = 10
MAX_PARTIAL_WORDS = 6  # queries of up to this many words may match with one of them missing
REINDEX_BATCH = 5000

Progress = Callable[[int, int], None]


# --- keeping the index in step -------------------------------------------------------------------------


def index_track(session: Session, *, track_id: int) -> None:
    """Bring one track's document (and its artists' and release's) up to date; idempotent.

    A track that listeners may not see (`catalog.visibility`), or that no longer exists, is removed."""
    backend = backend_for(session)
    old_release, old_artists = _indexed_links(session, track_id)
    track = session.get(Track, track_id)
    if track is None or not is_listable(track, ANONYMOUS):
        backend.delete(session, kind=Kind.track, ref_ids=[track_id])
    else:
        doc = _track_document(session, track)
        backend.write(session, doc)
        old_artists |= set(doc.artist_ids)
        old_release = old_release or doc.release_id
        if doc.release_id and doc.release_id != old_release:
            _refresh_release(session, backend, doc.release_id)
    for artist_id in sorted(old_artists):
        _refresh_artist(session, backend, artist_id)
    if old_release:
        _refresh_release(session, backend, old_release)


def remove_track(session: Session, *, track_id: int) -> None:
    """Take a track out of the index (its artists and release are brought up to date)."""
    backend = backend_for(session)
    old_release, old_artists = _indexed_links(session, track_id)
    backend.delete(session, kind=Kind.track, ref_ids=[track_id])
    for artist_id in sorted(old_artists):
        _refresh_artist(session, backend, artist_id)
    if old_release:
        _refresh_release(session, backend, old_release)


def index_artist(session: Session, *, artist_id: int) -> None:
    """After an artist's name changes: the artist and every one of their tracks."""
    track_ids = session.scalars(select(TrackArtist.track_id).where(TrackArtist.artist_id == artist_id))
    for track_id in sorted(set(track_ids)):
        index_track(session, track_id=track_id)
    _refresh_artist(session, backend_for(session), artist_id)


def index_release(session: Session, *, release_id: int) -> None:
    """After a release's title or date changes: the release and its tracks."""
    track_ids = session.scalars(select(Track.id).where(Track.release_id == release_id))
    for track_id in sorted(set(track_ids)):
        index_track(session, track_id=track_id)
    _refresh_release(session, backend_for(session), release_id)


def _indexed_links(session: Session, track_id: int) -> tuple[int | None, set[int]]:
    """The release and artists a track was indexed with, so they are refreshed when it changes."""
    rows = session.execute(
        text(
            "SELECT d.release_id, a.artist_id FROM search_documents d LEFT JOIN search_doc_artists a "
            "ON a.doc_id = d.id WHERE d.kind = :kind AND d.ref_id = :id"
        ),
        {"kind": int(Kind.track), "id": track_id},
    ).all()
    release = rows[0][0] if rows else None
    return release, {r[1] for r in rows if r[1] is not None}


def _track_document(session: Session, track: Track) -> Document:
    artists = session.execute(
        select(Artist.id, Artist.name)
        .join(TrackArtist, TrackArtist.artist_id == Artist.id)
        .where(TrackArtist.track_id == track.id)
        .order_by(TrackArtist.position, Artist.id)
    ).all()
    release = session.get(Release, track.release_id) if track.release_id else None
    release_date = release.release_date if release else None
    return Document(
        kind=Kind.track,
        ref_id=track.id,
        title=track.title,
        artists=[a.name for a in artists],
        release=release.title if release else None,
        genre=track.genre,
        release_id=track.release_id,
        release_date=release_date,
        popularity=track.play_count or 0,
        recency=recency(release_date, track.created_at),
        artist_ids=[a.id for a in artists],
    )


def _refresh_artist(session: Session, backend: IndexBackend, artist_id: int) -> None:
    """An artist is searchable while at least one of their tracks is listable."""
    artist = session.get(Artist, artist_id)
    rows = (
        session.execute(
            select(Track.play_count, Track.genre, Track.created_at, Release.release_date)
            .join(TrackArtist, TrackArtist.track_id == Track.id)
            .outerjoin(Release, Release.id == Track.release_id)
            .where(TrackArtist.artist_id == artist_id, listable_track())
        ).all()
        if artist
        else []
    )
    if artist is None or not rows:
        backend.delete(session, kind=Kind.artist, ref_ids=[artist_id])
        return
    backend.write(
        session,
        Document(
            kind=Kind.artist,
            ref_id=artist.id,
            title=artist.name,
            genre=_dominant(r.genre for r in rows),
            popularity=sum(r.play_count or 0 for r in rows),
            recency=max(recency(r.release_date, r.created_at) for r in rows),
            artist_ids=[artist.id],
        ),
    )


def _refresh_release(session: Session, backend: IndexBackend, release_id: int) -> None:
    """A release is searchable while at least one of its tracks is listable."""
    release = session.get(Release, release_id)
    rows = (
        session.execute(
            select(Track.id, Track.play_count, Track.genre, Track.created_at).where(
                Track.release_id == release_id, listable_track()
            )
        ).all()
        if release
        else []
    )
    if release is None or not rows:
        backend.delete(session, kind=Kind.release, ref_ids=[release_id])
        return
    credited = session.execute(
        select(Artist.id, Artist.name)
        .join(TrackArtist, TrackArtist.artist_id == Artist.id)
        .where(TrackArtist.track_id.in_([r.id for r in rows]))
        .order_by(TrackArtist.track_id, TrackArtist.position)
    ).all()
    names: dict[int, str] = {}
    if release.artist_id:
        main = session.get(Artist, release.artist_id)
        if main:
            names[main.id] = main.name
    for a in credited:
        names.setdefault(a.id, a.name)
    backend.write(
        session,
        Document(
            kind=Kind.release,
            ref_id=release.id,
            title=release.title,
            artists=list(names.values())[:10],
            genre=_dominant(r.genre for r in rows),
            release_id=release.id,
            release_date=release.release_date,
            popularity=sum(r.play_count or 0 for r in rows),
            recency=recency(release.release_date, max(r.created_at for r in rows)),
            artist_ids=list(names),
        ),
    )


def _dominant(genres: Iterable[str | None]) -> str | None:
    counts = Counter(g for g in genres if g)
    return min(counts, key=lambda g: (-counts[g], g)) if counts else None


# --- rebuilding -----------------------------------------------------------------------------------------


@dataclass
class _Aggregate:
    plays: int = 0
    recency: int = 0
    genres: Counter[str] = field(default_factory=Counter)
    artists: dict[int, str] = field(default_factory=dict)
    latest_added: int = 0

    def add(self, plays: int, day: int, genre: str | None) -> None:
        self.plays += plays
        self.recency = max(self.recency, day)
        if genre:
            self.genres[genre] += 1

    @property
    def genre(self) -> str | None:
        return min(self.genres, key=lambda g: (-self.genres[g], g)) if self.genres else None


def reindex(session: Session, progress: Progress | None = None) -> int:
    """Rebuild the whole index from the catalog's ready tracks; returns the number of documents.

    `progress(done, total)` is called after each batch of tracks."""
    backend = backend_for(session)
    total = session.scalar(select(func.count()).select_from(Track).where(listable_track()))
    total = int(total or 0)
    backend.begin_bulk(session)
    vocabulary: dict[str, bool] = {}
    artists: dict[int, _Aggregate] = {}
    releases: dict[int, _Aggregate] = {}
    next_id, done, after = 1, 0, 0
    while True:
        docs = _track_batch(session, after, artists, releases)
        if not docs:
            break
        next_id = backend.bulk_write(session, docs, next_id)
        _collect_terms(vocabulary, docs)
        done += len(docs)
        after = docs[-1].ref_id
        if progress:
            progress(done, total)
    for batch in _chunks(sorted(artists), REINDEX_BATCH):
        names = {
            r[0]: r[1] for r in session.execute(select(Artist.id, Artist.name).where(Artist.id.in_(batch)))
        }
        docs = [
            Document(
                kind=Kind.artist,
                ref_id=a,
                title=names[a],
                genre=artists[a].genre,
                popularity=artists[a].plays,
                recency=artists[a].recency,
                artist_ids=[a],
            )
            for a in batch
            if a in names
        ]
        next_id = backend.bulk_write(session, docs, next_id)
        _collect_terms(vocabulary, docs)
    for batch in _chunks(sorted(releases), REINDEX_BATCH):
        rows = session.execute(
            select(Release.id, Release.title, Release.release_date, Release.artist_id, Artist.name)
            .outerjoin(Artist, Artist.id == Release.artist_id)
            .where(Release.id.in_(batch))
        ).all()
        docs = []
        for r in rows:
            agg = releases[r.id]
            credited = {r.artist_id: r.name} if r.artist_id and r.name else {}
            credited.update((k, v) for k, v in agg.artists.items() if k not in credited)
            docs.append(
                Document(
                    kind=Kind.release,
                    ref_id=r.id,
                    title=r.title,
                    artists=list(credited.values())[:10],
                    genre=agg.genre,
                    release_id=r.id,
                    release_date=r.release_date,
                    popularity=agg.plays,
                    recency=r.release_date.toordinal() if r.release_date else agg.latest_added,
                    artist_ids=list(credited),
                )
            )
        next_id = backend.bulk_write(session, docs, next_id)
        _collect_terms(vocabulary, docs)
    backend.insert_terms(session, [term_row(t, abjad) for t, abjad in vocabulary.items()])
    backend.end_bulk(session, next_id)
    return next_id - 1


def settle(engine: Engine) -> None:
    """After a rebuild has committed: let the database catch up on it (PostgreSQL: VACUUM ANALYZE, which
    marks the new rows all-visible, so the postings' index-only scans stop visiting the table; measured
    0.5-1 ms per search at 1M tracks until autovacuum got there). Outside any transaction."""
    tables = ("search_documents", "search_keys", "search_terms", "search_term_grams", "search_postings")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "postgresql":
            for table in tables:
                conn.execute(text(f"VACUUM ANALYZE {table}"))
        else:
            conn.execute(text("ANALYZE"))


def _track_batch(
    session: Session, after: int, artists: dict[int, _Aggregate], releases: dict[int, _Aggregate]
) -> list[Document]:
    rows = session.execute(
        select(
            Track.id,
            Track.title,
            Track.genre,
            Track.play_count,
            Track.created_at,
            Track.release_id,
            Release.title.label("release_title"),
            Release.release_date,
        )
        .outerjoin(Release, Release.id == Track.release_id)
        .where(listable_track(), Track.id > after)
        .order_by(Track.id)
        .limit(REINDEX_BATCH)
    ).all()
    if not rows:
        return []
    credits: dict[int, list[tuple[int, str]]] = {}
    for c in session.execute(
        select(TrackArtist.track_id, Artist.id, Artist.name)
        .join(Artist, Artist.id == TrackArtist.artist_id)
        .where(TrackArtist.track_id.between(rows[0].id, rows[-1].id))
        .order_by(TrackArtist.track_id, TrackArtist.position, Artist.id)
    ):
        credits.setdefault(c.track_id, []).append((c.id, c.name))
    docs = []
    for r in rows:
        credited = credits.get(r.id, [])
        day = recency(r.release_date, r.created_at)
        plays = r.play_count or 0
        for artist_id, _ in credited:
            artists.setdefault(artist_id, _Aggregate()).add(plays, day, r.genre)
        if r.release_id:
            agg = releases.setdefault(r.release_id, _Aggregate())
            agg.add(plays, day, r.genre)
            agg.latest_added = max(agg.latest_added, recency(None, r.created_at))
            for artist_id, name in credited:
                agg.artists.setdefault(artist_id, name)
        docs.append(
            Document(
                kind=Kind.track,
                ref_id=r.id,
                title=r.title,
                artists=[name for _, name in credited],
                release=r.release_title,
                genre=r.genre,
                release_id=r.release_id,
                release_date=r.release_date,
                popularity=plays,
                recency=day,
                artist_ids=[a for a, _ in credited],
            )
        )
    return docs


def _collect_terms(vocabulary: dict[str, bool], docs: Sequence[Document]) -> None:
    for doc in docs:
        for term, abjad in doc.terms().items():
            if abjad or term not in vocabulary:
                vocabulary[term] = vocabulary.get(term, False) or abjad


def _chunks(items: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# --- searching ------------------------------------------------------------------------------------------

KINDS = {"track": Kind.track, "artist": Kind.artist, "release": Kind.release}


def search(
    session: Session,
    *,
    q: str,
    type: str = "track",
    genre: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    artist: int | None = None,
    limit: int = 20,
    cursor: str | None = None,
    facets: bool = True,
) -> SearchPage:
    """One page of results, best first (see ranking.py), with highlights, genre facets and a next cursor."""
    if type not in KINDS:
        raise InvalidInput("type must be one of track, artist, release")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    if date_from and date_to and date_from > date_to:
        raise InvalidInput("from is after to")
    parsed = parse_query(q)
    filters = Filters(KINDS[type], fold_keyword(genre), date_from, date_to, artist)
    digest = query_digest(parsed, filters)
    offset = decode_cursor(cursor, digest)
    if parsed.empty:
        return SearchPage(hits=[], next_cursor=None, total=0, total_exact=True, facets=[])
    backend = backend_for(session)
    with backend.reading(session):
        return _search(session, backend, parsed, filters, offset, limit, digest, facets=facets)


def _search(
    session: Session,
    backend: IndexBackend,
    parsed: ParsedQuery,
    filters: Filters,
    offset: int,
    limit: int,
    digest: str,
    *,
    facets: bool,
) -> SearchPage:
    found, loosest = _rank(session, backend, parsed, filters, want=offset + limit + 1)
    page = found[offset : offset + limit]
    more = len(found) > offset + limit and offset + limit < MAX_RESULTS
    facet_list: list[Facet] = []
    total, exact_total = len(found), len(found) <= offset + limit
    if facets or not exact_total:
        counts, all_counted = backend.facets(session, loosest, filters, cap=FACET_SAMPLE)
        counted = sum(c for _, _, c in counts)
        facet_list = sorted(
            (Facet(label, c) for key, label, c in counts if key), key=lambda f: (-f.count, f.genre)
        )
        in_genre = sum(c for key, _, c in counts if key == filters.genre) if filters.genre else counted
        total = max(len(found) if exact_total else 0, in_genre)
        exact_total = exact_total or all_counted
    return SearchPage(
        hits=_hits(session, backend, page, Highlighter(_alts(loosest))),
        next_cursor=encode_cursor(offset + limit, digest) if more else None,
        total=total,
        total_exact=exact_total,
        facets=facet_list if facets else [],
    )


def suggest(session: Session, *, q: str, limit: int = 10) -> list[Suggestion]:
    """Completions for what is being typed: every word may be the start of a word, the last most of all."""
    if not 1 <= limit <= MAX_SUGGESTIONS:
        raise InvalidInput(f"limit must be between 1 and {MAX_SUGGESTIONS}")
    if not (q or "").strip():
        return []
    parsed = parse_query(q)
    if parsed.empty:
        return []
    backend = backend_for(session)
    with backend.reading(session):
        return _suggest(session, backend, parsed, limit)


def _suggest(session: Session, backend: IndexBackend, parsed: ParsedQuery, limit: int) -> list[Suggestion]:
    lvl = level(parsed, Tier.prefix)
    assert lvl is not None
    matches = backend.match(session, lvl, Filters(), limit=limit * 3)
    if not matches:
        # Nothing starts that way: perhaps a typo or a spelling by ear of a complete word.
        exp: Expansions | None = None
        for tier in (Tier.phonetic, Tier.fuzzy):
            exp = _expand(session, backend, parsed, typos=tier == Tier.fuzzy, known=exp)
            lvl = level(parsed, tier, exp) or lvl
            matches = backend.match(session, lvl, Filters(), limit=limit * 3)
            if matches:
                break
    shown = _display(session, backend, matches)
    marker = Highlighter(_alts(lvl))
    out: list[Suggestion] = []
    seen: set[str] = set()
    for m in sorted(matches, key=lambda m: not _starts(shown.get((m.kind, m.ref_id)), parsed)):
        d = shown.get((m.kind, m.ref_id))
        if d is None:
            continue
        label = d.title + (f" — {', '.join(d.artists)}" if d.artists and m.kind != Kind.artist else "")
        if label in seen:
            continue
        seen.add(label)
        out.append(
            Suggestion(kind=m.kind.name, id=m.ref_id, text=label, highlight=marker.mark(label) or label)
        )
        if len(out) == limit:
            break
    return out


def _starts(d: _Shown | None, parsed: ParsedQuery) -> bool:
    """A suggestion whose name begins with what was typed comes before one where a later word does."""
    return d is not None and fold(d.title).key.startswith(parsed.key)


def _rank(
    session: Session, backend: IndexBackend, parsed: ParsedQuery, filters: Filters, *, want: int
) -> tuple[list[tuple[Match, Tier]], Level]:
    """The first `want` matches in rank order, and the loosest level that was run (for facets, highlights).

    Tiers run best first, each excluding what the better ones found, until `want` are found."""
    found: list[tuple[Match, Tier]] = []
    ids: list[int] = []
    loosest = level(parsed, Tier.words)
    assert loosest is not None
    previous: Level | None = None
    exp: Expansions | None = None
    for tier in sorted(Tier, reverse=True):
        need = want - len(found)
        if need <= 0:
            break
        if tier == Tier.exact:
            rows = backend.match_exact(session, parsed.key, filters, limit=need) if parsed.key else []
        elif tier == Tier.partial:
            rows = _partial(session, backend, loosest, filters, exclude=ids, limit=need)
        else:
            if tier <= Tier.phonetic:
                exp = _expand(session, backend, parsed, typos=tier <= Tier.fuzzy, known=exp)
            lvl = level(parsed, tier, exp)
            if lvl is None or lvl == previous:
                continue
            previous = lvl
            if tier <= Tier.words:
                loosest = lvl
            rows = backend.match(session, lvl, filters, exclude=ids, limit=need)
        for row in rows:
            found.append((row, tier))
            ids.append(row.doc_id)
    return found, loosest


def partial_levels(lvl: Level) -> list[Level]:
    """The loosest level with one of its words left out, for each word in turn (quoted phrases stay):
    `guns and roses` finds Guns N' Roses, `sweet child of mine` Sweet Child o' Mine. Only for 2 to
    MAX_PARTIAL_WORDS words: beyond that one word more or less says little."""
    words = [c for c in lvl if not c.phrase]
    phrases = tuple(c for c in lvl if c.phrase)
    if not 2 <= len(words) <= MAX_PARTIAL_WORDS:
        return []
    out = []
    for i in range(len(words)):
        kept = [w for j, w in enumerate(words) if j != i]
        # What is left must say something: not only one- or two-letter words (`li` in `li beirut`
        # would match every `like`); numbers count (`99 balloons`).
        if phrases or any(_telling(w) for w in kept):
            out.append((*kept, *phrases))
    return out


def _telling(clause: Clause) -> bool:
    return any(len(a.term) >= 3 or a.term.isdigit() for a in clause.alts)


def _partial(
    session: Session,
    backend: IndexBackend,
    lvl: Level,
    filters: Filters,
    *,
    exclude: Sequence[int],
    limit: int,
) -> list[Match]:
    """The partial tier: documents matching all words but one, most played first."""
    seen = set(exclude)
    found: dict[int, Match] = {}
    for relaxed in partial_levels(lvl):
        for m in backend.match(session, relaxed, filters, exclude=list(seen), limit=limit):
            found[m.doc_id] = m
            seen.add(m.doc_id)
    return sorted(found.values(), key=lambda m: (-m.popularity, -m.doc_id))[:limit]


def _expand(
    session: Session,
    backend: IndexBackend,
    parsed: ParsedQuery,
    *,
    typos: bool = True,
    known: Expansions | None = None,
) -> Expansions:
    """Look up the vocabulary words that sound like, or (when `typos`) are typos of, each query word.

    Typo candidates cost the most to find, so they are looked up only once the fuzzy tier is reached;
    what `known` already holds is not looked up again."""
    phonetic: dict[str, tuple[str, ...]] = dict(known.phonetic) if known else {}
    typo: dict[str, tuple[str, ...]] = dict(known.typo) if known else {}
    for word in parsed.words:
        for form in word.forms:
            if len(form) < MIN_LENGTH:
                continue
            if typos and form not in typo:
                near: list[str] = []
                if edits := max_edits(form):
                    near = [t for t in backend.typo_candidates(session, form, edits) if is_typo_of(form, t)]
                    near.sort(key=lambda t: (edit_distance(form, t, edits), -similarity(form, t), t))
                typo[form] = tuple(near[:MAX_TERMS_PER_WORD])
            if form in phonetic:
                continue
            # A Double Metaphone key is shared by much shorter words (`mer` for `moier`) that would flood
            # the tier; an abjad skeleton is shorter by nature (`fyrwz` for `fairuz`) and is kept.
            alike = backend.phonetic_terms(session, form, metaphone_keys(form), skeleton(form) or None)
            scored = sorted(
                (edit_distance(form, t, 9), t)
                for t, by_skeleton in alike
                if t != form and (by_skeleton or len(form) - 1 <= len(t) <= len(form) + 3)
            )
            phonetic[form] = tuple(t for _, t in scored[:MAX_PHONETIC_PER_WORD])
    return Expansions(phonetic=phonetic, typo=typo)


def _alts(lvl: Level) -> list[Alt]:
    return [a for c in lvl for a in c.alts] + [Alt(w) for c in lvl for w in c.phrase]


@dataclass
class _Shown:
    title: str
    artists: list[str]
    release: str | None = None
    genre: str | None = None
    release_date: date | None = None
    play_count: int = 0


def _display(
    session: Session, backend: IndexBackend, matches: Sequence[Match]
) -> dict[tuple[Kind, int], _Shown]:
    """What a result shows, read from the catalog in one statement (the index holds folded words only)."""
    if not matches:
        return {}
    by_kind: dict[Kind, list[int]] = {k: [] for k in Kind}
    for m in matches:
        by_kind[m.kind].append(m.ref_id)
    popularity = {(m.kind, m.ref_id): m.popularity for m in matches}
    out: dict[tuple[Kind, int], _Shown] = {}
    for kind, ref_id, title, genre, plays, release, released, name in backend.display_rows(
        session, tracks=by_kind[Kind.track], artists=by_kind[Kind.artist], releases=by_kind[Kind.release]
    ):
        key = (Kind(kind), ref_id)
        shown = out.get(key)
        if shown is None:
            if key[0] == Kind.track:
                shown = _Shown(title, [], release, genre, released, plays or 0)
            else:
                shown = _Shown(title, [], None, None, released, popularity[key])
            out[key] = shown
        if name is not None:
            shown.artists.append(name)
    return out


def _hits(
    session: Session, backend: IndexBackend, page: Sequence[tuple[Match, Tier]], marker: Highlighter
) -> list[SearchHit]:
    shown = _display(session, backend, [m for m, _ in page])
    hits = []
    for m, tier in page:
        d = shown.get((m.kind, m.ref_id))
        if d is None:
            continue  # removed from the catalog since it was found
        marks = {"title": marker.mark(d.title), "release": marker.mark(d.release) if d.release else None}
        artists = [marker.mark(a) for a in d.artists]
        if any(artists):
            marks["artists"] = ", ".join(h or a for h, a in zip(artists, d.artists, strict=True))
        hits.append(
            SearchHit(
                kind=m.kind.name,
                id=m.ref_id,
                title=d.title,
                artists=d.artists,
                release=d.release,
                genre=d.genre,
                release_date=d.release_date,
                play_count=d.play_count,
                match=tier.name,
                highlights={k: v for k, v in marks.items() if v},
            )
        )
    return hits
