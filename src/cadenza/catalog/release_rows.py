"""Releases as an album listing shows them (`browse.ReleaseFacts`: title, artist, date, and the count,
length and plays of the tracks the viewer may see), one page in id order in one statement, for an
OpenSubsonic client's full sync (`search3` with an empty query pages 500 albums at a time).

`browse.release_page` then `browse.releases` took two statements and bound the page's 500 ids as an
array; here the page's ids are chosen in a subquery (after the id `after` when the caller knows where the
previous page ended, keyset, else from `offset`) and its tracks aggregated in the same statement. The
visibility of releases and of the tracks counted is `catalog.visibility`'s: a release with no track the
viewer may see is left out, as `browse.releases` leaves it out."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, select
from sqlalchemy.orm import Session

from cadenza.catalog import visibility
from cadenza.catalog.browse import ReleaseFacts
from cadenza.catalog.models import Artist, Release, Track
from cadenza.catalog.song_rows import built_once
from cadenza.catalog.visibility import Viewer
from cadenza.db.lists import dialect_of
from cadenza.errors import InvalidInput

MAX_PAGE = 500


def page(
    session: Session, *, viewer: Viewer, size: int, offset: int = 0, after: int | None = None
) -> list[ReleaseFacts]:
    """One page of the releases the viewer may see, in id order, with their facts."""
    if not 1 <= size <= MAX_PAGE:
        raise InvalidInput(f"size must be between 1 and {MAX_PAGE}")
    listed, counted = visibility.release_condition(viewer), visibility.track_condition(viewer)
    stmt = built_once(
        "release page",
        dialect_of(session),
        viewer,
        and_(listed, counted),
        lambda _d, _v: _page(listed, counted),
    )
    params = {"after": after or 0, "offset": 0 if after is not None else offset, "size": size}
    return [
        ReleaseFacts(i, title, artist_id, name, day, created, int(n), float(d), int(p), g)
        for i, title, artist_id, name, day, created, n, d, p, g in session.connection().execute(stmt, params)
    ]


def _page(listed: ColumnElement[bool], counted: ColumnElement[bool]) -> Select[Any]:
    ids = (
        select(Release.id)
        .where(listed, Release.id > bindparam("after"))
        .order_by(Release.id)
        .offset(bindparam("offset"))
        .limit(bindparam("size"))
        .subquery("page")
    )
    facts = (
        Release.id, Release.title, Release.artist_id, Artist.name, Release.release_date, Release.created_at,
    )  # fmt: skip
    return (
        select(
            *facts,
            func.count(Track.id),
            func.coalesce(func.sum(Track.duration_sec), 0.0),
            func.coalesce(func.sum(Track.play_count), 0),
            func.max(Track.genre),
        )
        .select_from(ids)
        .join(Release, Release.id == ids.c.id)
        .outerjoin(Artist, Artist.id == Release.artist_id)
        .join(Track, and_(Track.release_id == Release.id, counted))
        .group_by(*facts)
        .order_by(Release.id)
    )
