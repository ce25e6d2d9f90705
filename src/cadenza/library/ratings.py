"""Ratings: a listener rates tracks, releases and artists from 1 to 5 stars; 0 clears a rating."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.catalog.visibility import Viewer
from cadenza.db.lists import one_of
from cadenza.errors import InvalidInput
from cadenza.library.limits import MAX_PAGE
from cadenza.library.marks import MARKS, Kind, clear, ensure_visible, upsert
from cadenza.library.playlists import signed_in


def rate(session: Session, *, viewer: Viewer, kind: Kind, item_id: int, rating: int) -> None:
    """Set the viewer's rating of an item they can see (1-5), or clear it (0)."""
    user_id = signed_in(viewer)
    if not 0 <= rating <= 5:
        raise InvalidInput("a rating is 1 to 5 stars, or 0 to clear it")
    if rating == 0:
        clear(session, kind=kind, user_id=user_id, item_id=item_id, column="rating")
        return
    ensure_visible(session, kind=kind, item_id=item_id, viewer=viewer)
    upsert(session, kind=kind, user_id=user_id, item_id=item_id, values={"rating": rating}, keep=set())


def ratings_of(session: Session, *, viewer: Viewer, kind: Kind, item_ids: list[int]) -> dict[int, int]:
    """The viewer's ratings of the given items (unrated ones are left out)."""
    if len(item_ids) > MAX_PAGE:
        raise InvalidInput(f"ask for at most {MAX_PAGE} ratings at a time")
    m = MARKS[kind]
    query = select(m.item_id, m.model.rating).where(
        m.model.user_id == signed_in(viewer),
        one_of(session, m.item_id, sorted(set(item_ids))),
        m.model.rating.is_not(None),
    )
    return {item: rating for item, rating in session.execute(query)}
