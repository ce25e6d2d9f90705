"""library: playlists with gapped positions and totals, stars and ratings, the saved play queue

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 00:00:00

Replaces the seed's unused `playlists`, `playlist_tracks` and `library_entries` (see
cadenza/library/models.py for the new shapes). Any rows they hold are carried across: playlists keep their
ids, entries keep their order (renumbered with gaps of 2^32), a library entry becomes a starred track.

The old tables are renamed aside, the new ones created, the rows copied, then the old ones dropped. Nothing
is re-created in place: on SQLite that means dropping a table that others reference, and with foreign keys
on (they cannot be switched off inside the migration's transaction) the drop would cascade-delete the rows
being moved. On PostgreSQL the old primary key and id sequence are renamed too, as index and sequence
names are shared by a whole schema.

A listener's index on playback sessions becomes (user_id, started_at): it still serves the cascade, and
reads "recently played" newest first.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cadenza.db.base import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
GAP = 2**32  # cadenza.library.positions.GAP when this was written


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _set_aside(table: str, suffix: str, *, pk: bool = False, sequence: bool = False) -> None:
    op.rename_table(table, f"{table}_{suffix}")
    if _postgres():
        if pk:
            op.execute(f"ALTER TABLE {table}_{suffix} RENAME CONSTRAINT pk_{table} TO pk_{table}_{suffix}")
        if sequence:
            op.execute(f"ALTER SEQUENCE {table}_id_seq RENAME TO {table}_{suffix}_id_seq")


def _continue_ids(table: str) -> None:
    """Copied rows kept their ids: the new table's sequence starts after them (PostgreSQL)."""
    if _postgres():
        op.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false) "
            f"FROM {table}"
        )


def _marks_table(kind: str, item_table: str) -> None:
    column = f"{kind}_id"
    op.create_table(
        f"{kind}_marks",
        sa.Column("user_id", BIG, nullable=False),
        sa.Column(column, BIG, nullable=False),
        sa.Column("starred_at", UTCDateTime(), nullable=True),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.CheckConstraint(
            "rating IS NULL OR rating BETWEEN 1 AND 5", name=op.f(f"ck_{kind}_marks_rating_range")
        ),
        sa.CheckConstraint(
            "starred_at IS NOT NULL OR rating IS NOT NULL", name=op.f(f"ck_{kind}_marks_starred_or_rated")
        ),
        sa.ForeignKeyConstraint(
            [column],
            [f"{item_table}.id"],
            name=op.f(f"fk_{kind}_marks_{column}_{item_table}"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f(f"fk_{kind}_marks_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", column, name=op.f(f"pk_{kind}_marks")),
    )
    op.create_index(f"ix_{kind}_marks_user_starred", f"{kind}_marks", ["user_id", "starred_at"])
    op.create_index(f"ix_{kind}_marks_{column}", f"{kind}_marks", [column])


def upgrade() -> None:
    _set_aside("playlist_tracks", "0005")
    _set_aside("library_entries", "0005")
    _set_aside("playlists", "0005", pk=True, sequence=True)

    op.create_table(
        "playlists",
        sa.Column("id", BIG, nullable=False),
        sa.Column("owner_id", BIG, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=2000), server_default="", nullable=False),
        sa.Column("public", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("track_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("duration_ms", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="1", nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("length(name) BETWEEN 1 AND 200", name=op.f("ck_playlists_name_length")),
        sa.CheckConstraint("track_count >= 0", name=op.f("ck_playlists_track_count_positive")),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_playlists_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playlists")),
    )
    op.create_index("ix_playlists_owner", "playlists", ["owner_id", "id"])
    op.create_table(
        "playlist_entries",
        sa.Column("id", BIG, nullable=False),
        sa.Column("playlist_id", BIG, nullable=False),
        sa.Column("track_id", BIG, nullable=True),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("duration_ms", sa.BigInteger(), nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["playlist_id"],
            ["playlists.id"],
            name=op.f("fk_playlist_entries_playlist_id_playlists"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["track_id"], ["tracks.id"], name=op.f("fk_playlist_entries_track_id_tracks"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playlist_entries")),
        sa.UniqueConstraint("playlist_id", "position", name="uq_playlist_entries_playlist_position"),
    )
    op.create_index("ix_playlist_entries_track_id", "playlist_entries", ["track_id"])
    _marks_table("track", "tracks")
    _marks_table("release", "releases")
    _marks_table("artist", "artists")
    op.create_table(
        "play_queues",
        sa.Column("user_id", BIG, nullable=False),
        sa.Column("track_ids", sa.JSON(), nullable=False),
        sa.Column("current_index", sa.Integer(), nullable=False),
        sa.Column("position_ms", sa.BigInteger(), nullable=False),
        sa.Column("device", sa.String(length=100), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_play_queues_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_play_queues")),
    )

    op.execute(
        "INSERT INTO playlists (id, owner_id, name, description, public, track_count, duration_ms, version, "
        "created_at, updated_at) "
        "SELECT id, owner_id, CASE WHEN length(name) = 0 THEN 'Playlist' ELSE substr(name, 1, 200) END, '', "
        "false, 0, 0, 1, created_at, created_at FROM playlists_0005"
    )
    op.execute(
        "INSERT INTO playlist_entries (playlist_id, track_id, position, duration_ms, added_at) "
        f"SELECT pt.playlist_id, pt.track_id, row_number() OVER (PARTITION BY pt.playlist_id "
        f"ORDER BY pt.position) * {GAP}, CAST(coalesce(round(t.duration_sec * 1000), 0) AS BIGINT), "
        "p.created_at FROM playlist_tracks_0005 pt JOIN playlists_0005 p ON p.id = pt.playlist_id "
        "JOIN tracks t ON t.id = pt.track_id"
    )
    op.execute(
        "UPDATE playlists SET "
        "track_count = (SELECT count(*) FROM playlist_entries e WHERE e.playlist_id = playlists.id), "
        "duration_ms = (SELECT coalesce(sum(e.duration_ms), 0) FROM playlist_entries e "
        "WHERE e.playlist_id = playlists.id)"
    )
    op.execute(
        "INSERT INTO track_marks (user_id, track_id, starred_at, rating) "
        "SELECT user_id, track_id, added_at, NULL FROM library_entries_0005"
    )
    _continue_ids("playlists")
    op.drop_table("playlist_tracks_0005")
    op.drop_table("library_entries_0005")
    op.drop_table("playlists_0005")

    op.drop_index("ix_playback_sessions_user_id", table_name="playback_sessions")
    op.create_index("ix_playback_sessions_user_started", "playback_sessions", ["user_id", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_playback_sessions_user_started", table_name="playback_sessions")
    op.create_index("ix_playback_sessions_user_id", "playback_sessions", ["user_id"])

    _set_aside("playlists", "0006", pk=True, sequence=True)
    op.create_table(
        "playlists",
        sa.Column("id", BIG, nullable=False),
        sa.Column("owner_id", BIG, nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_playlists_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playlists")),
    )
    op.create_table(
        "library_entries",
        sa.Column("user_id", BIG, nullable=False),
        sa.Column("track_id", BIG, nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["track_id"], ["tracks.id"], name=op.f("fk_library_entries_track_id_tracks"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_library_entries_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "track_id", name=op.f("pk_library_entries")),
    )
    op.create_table(
        "playlist_tracks",
        sa.Column("playlist_id", BIG, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("track_id", BIG, nullable=False),
        sa.ForeignKeyConstraint(
            ["playlist_id"],
            ["playlists.id"],
            name=op.f("fk_playlist_tracks_playlist_id_playlists"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["track_id"], ["tracks.id"], name=op.f("fk_playlist_tracks_track_id_tracks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("playlist_id", "position", name=op.f("pk_playlist_tracks")),
    )
    # What the old shape can hold: names, ordered tracks (entries of deleted tracks are dropped), stars.
    op.execute(
        "INSERT INTO playlists (id, owner_id, name, created_at) "
        "SELECT id, owner_id, name, created_at FROM playlists_0006"
    )
    op.execute(
        "INSERT INTO playlist_tracks (playlist_id, position, track_id) "
        "SELECT playlist_id, row_number() OVER (PARTITION BY playlist_id ORDER BY position) - 1, track_id "
        "FROM playlist_entries WHERE track_id IS NOT NULL"
    )
    op.execute(
        "INSERT INTO library_entries (user_id, track_id, added_at) "
        "SELECT user_id, track_id, starred_at FROM track_marks WHERE starred_at IS NOT NULL"
    )
    _continue_ids("playlists")

    op.drop_table("play_queues")
    for kind in ("artist", "release", "track"):
        op.drop_index(f"ix_{kind}_marks_{kind}_id", table_name=f"{kind}_marks")
        op.drop_index(f"ix_{kind}_marks_user_starred", table_name=f"{kind}_marks")
        op.drop_table(f"{kind}_marks")
    op.drop_index("ix_playlist_entries_track_id", table_name="playlist_entries")
    op.drop_table("playlist_entries")
    op.drop_index("ix_playlists_owner", table_name="playlists_0006")
    op.drop_table("playlists_0006")
