"""bookmarks (Subsonic getBookmarks/createBookmark/deleteBookmark); indexes for browsing by album/artist

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 15:00:00

See library/bookmarks.py for the new table. The three indexes serve every "tracks of this album",
"albums of this artist" and "tracks of this artist" lookup, and the visibility conditions of albums and
artists (EXISTS over their tracks): without them each was a scan of `tracks` (bench/subsonic_sync.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cadenza.db.base import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "bookmarks",
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("track_id", _ID, nullable=False),
        sa.Column("position_ms", sa.BigInteger(), nullable=False),
        sa.Column("comment", sa.String(length=1000), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_bookmarks_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["track_id"], ["tracks.id"], name=op.f("fk_bookmarks_track_id_tracks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "track_id", name=op.f("pk_bookmarks")),
    )
    op.create_index("ix_bookmarks_track_id", "bookmarks", ["track_id"])
    op.create_index("ix_tracks_release_id", "tracks", ["release_id"])
    op.create_index("ix_releases_artist_id", "releases", ["artist_id"])
    op.create_index("ix_track_artists_artist_id", "track_artists", ["artist_id"])


def downgrade() -> None:
    op.drop_index("ix_track_artists_artist_id", table_name="track_artists")
    op.drop_index("ix_releases_artist_id", table_name="releases")
    op.drop_index("ix_tracks_release_id", table_name="tracks")
    op.drop_index("ix_bookmarks_track_id", table_name="bookmarks")
    op.drop_table("bookmarks")
