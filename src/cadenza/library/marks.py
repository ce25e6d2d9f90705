"""A listener's marks on an item (a star, a rating), stored one row per listener and item while either is
set (`models.TrackMark` and its siblings). Shared by `favourites.py` and `ratings.py`."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session

from cadenza.catalog.models import Artist, Release, Track
from cadenza.catalog.visibility import Viewer, artist_condition, release_condition, track_condition
from cadenza.errors import NotFound
from cadenza.library.models import ArtistMark, ReleaseMark, TrackMark


class Kind(enum.StrEnum):
    track = "track"
    release = "release"
    artist = "artist"


@dataclass(frozen=True)
class Marks:
    """Where one kind's marks live and how its items are seen."""

    model: type[TrackMark] | type[ReleaseMark] | type[ArtistMark]
    item: Any  # the item's model
    item_id: InstrumentedAttribute[int]  # the mark's column naming the item

    def visible(self, viewer: Viewer) -> ColumnElement[bool]:
        """`catalog.visibility`'s condition for this kind."""
        if self.item is Track:
            return track_condition(viewer)
        if self.item is Release:
            return release_condition(viewer)
        return artist_condition(viewer)


MARKS = {
    Kind.track: Marks(TrackMark, Track, TrackMark.track_id),
    Kind.release: Marks(ReleaseMark, Release, ReleaseMark.release_id),
    Kind.artist: Marks(ArtistMark, Artist, ArtistMark.artist_id),
}


def ensure_visible(session: Session, *, kind: Kind, item_id: int, viewer: Viewer) -> None:
    """A listener marks only what the catalog shows them."""
    m = MARKS[kind]
    if not session.scalar(select(exists().where(m.item.id == item_id, m.visible(viewer)))):
        raise NotFound(f"{kind.value} {item_id} not found")


def upsert(
    session: Session, *, kind: Kind, user_id: int, item_id: int, values: dict[str, Any], keep: set[str]
) -> None:
    """Insert the mark or update the existing one: columns in `keep` keep a value already set (the first
    star's time stays), the others take the new value. One statement, so two devices starring at once
    cannot both insert."""
    m = MARKS[kind]
    row = {"user_id": user_id, m.item_id.key: item_id, "starred_at": None, "rating": None, **values}
    stmt = upsert_into(session, m.model).values(row)
    table = m.model.__table__
    changes = {
        name: func.coalesce(table.c[name], stmt.excluded[name]) if name in keep else stmt.excluded[name]
        for name in values
    }
    session.execute(stmt.on_conflict_do_update(index_elements=["user_id", m.item_id.key], set_=changes))


def clear(session: Session, *, kind: Kind, user_id: int, item_id: int, column: str) -> None:
    """Unset one mark; the row goes once neither is set (the check constraint allows no empty row, so the
    row that holds only this mark is deleted first and the other kind of row updated after)."""
    m = MARKS[kind]
    other = "rating" if column == "starred_at" else "starred_at"
    mine = and_(m.model.user_id == user_id, m.item_id == item_id)
    session.execute(delete(m.model).where(mine, getattr(m.model, other).is_(None)))
    session.execute(update(m.model).where(mine).values({column: None}))


def upsert_into(session: Session, model: Any) -> Any:
    """The dialect's INSERT, which has `on_conflict_do_update` on both PostgreSQL and SQLite."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model)
