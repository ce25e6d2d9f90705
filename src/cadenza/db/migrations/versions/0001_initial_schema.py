"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 00:33:47.813359
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cadenza.db.base import UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The seed's rule, for SQL callers: a live `stream` right, worldwide (NULL territory) or for the territory.
# cadenza.rights.policy.can_stream is the same rule in Python; tests prove that both agree.
CAN_STREAM_SQL = """
CREATE OR REPLACE FUNCTION can_stream(p_track_id bigint, p_territory char(2), p_at timestamptz)
RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (
    SELECT 1 FROM track_rights
    WHERE track_id = p_track_id
      AND right_type = 'stream'
      AND (territory IS NULL OR territory = upper(p_territory))
      AND (expires_at IS NULL OR expires_at > p_at)
  );
$$;
CREATE OR REPLACE FUNCTION can_stream(p_track_id bigint, p_territory char(2))
RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT can_stream(p_track_id, p_territory, now());
$$;
"""


def upgrade() -> None:
    op.create_table(
        "artists",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artists")),
    )
    with op.batch_alter_table("artists", schema=None) as batch_op:
        batch_op.create_index("ix_artists_name", ["name"], unique=False)

    op.create_table(
        "rights_holders",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights_holders")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=500), nullable=False),
        sa.Column(
            "role",
            sa.Enum("listener", "admin", name="user_role", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column(
            "tier",
            sa.Enum("free", "premium", "hifi", name="user_tier", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "playlists",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("owner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_playlists_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playlists")),
    )
    op.create_table(
        "releases",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("upc", sa.String(length=14), nullable=True),
        sa.Column("release_date", sa.Date(), nullable=True),
        sa.Column("artwork_key", sa.String(length=1000), nullable=True),
        sa.Column("artist_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "upc IS NULL OR length(upc) BETWEEN 12 AND 14", name=op.f("ck_releases_upc_length")
        ),
        sa.ForeignKeyConstraint(
            ["artist_id"], ["artists.id"], name=op.f("fk_releases_artist_id_artists"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_releases")),
    )
    op.create_table(
        "tracks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("duration_sec", sa.Float(), nullable=True),
        sa.Column("isrc", sa.CHAR(length=12), nullable=True),
        sa.Column(
            "status",
            sa.Enum("processing", "ready", "failed", name="track_status", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("stage", sa.String(length=32), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("genre", sa.String(length=100), nullable=True),
        sa.Column("track_number", sa.Integer(), nullable=True),
        sa.Column("release_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("source_key", sa.String(length=1000), nullable=True),
        sa.Column("source_filename", sa.String(length=1000), nullable=True),
        sa.Column("source_checksum", sa.String(length=64), nullable=True),
        sa.Column("source_size", sa.BigInteger(), nullable=True),
        sa.Column("source_info", sa.JSON(), nullable=True),
        sa.Column("hifi_unavailable_reason", sa.Text(), nullable=True),
        sa.Column("fingerprint", sa.LargeBinary(), nullable=True),
        sa.Column("duplicate_of", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("duplicate_score", sa.Float(), nullable=True),
        sa.Column("media_prefix", sa.String(length=1000), nullable=True),
        sa.Column("waveform_key", sa.String(length=1000), nullable=True),
        sa.Column("play_count", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("isrc IS NULL OR length(isrc) = 12", name=op.f("ck_tracks_isrc_length")),
        sa.CheckConstraint("length(title) > 0", name=op.f("ck_tracks_title_not_empty")),
        sa.ForeignKeyConstraint(
            ["duplicate_of"], ["tracks.id"], name=op.f("fk_tracks_duplicate_of_tracks"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["release_id"], ["releases.id"], name=op.f("fk_tracks_release_id_releases"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracks")),
    )
    with op.batch_alter_table("tracks", schema=None) as batch_op:
        batch_op.create_index("ix_tracks_source_checksum", ["source_checksum"], unique=False)
        batch_op.create_index("ix_tracks_status", ["status"], unique=False)

    op.create_table(
        "fingerprint_keys",
        sa.Column("key", sa.Integer(), nullable=False),
        sa.Column("track_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["track_id"], ["tracks.id"], name=op.f("fk_fingerprint_keys_track_id_tracks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("key", "track_id", name=op.f("pk_fingerprint_keys")),
    )
    with op.batch_alter_table("fingerprint_keys", schema=None) as batch_op:
        batch_op.create_index("ix_fingerprint_keys_track_id", ["track_id"], unique=False)
    op.create_table(
        "library_entries",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("track_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
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
        "playback_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("track_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("territory", sa.CHAR(length=2), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["track_id"], ["tracks.id"], name=op.f("fk_playback_sessions_track_id_tracks"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_playback_sessions_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playback_sessions")),
    )
    op.create_table(
        "playlist_tracks",
        sa.Column("playlist_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("track_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
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
    op.create_table(
        "track_artists",
        sa.Column("track_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("artist_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["artist_id"], ["artists.id"], name=op.f("fk_track_artists_artist_id_artists"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["track_id"], ["tracks.id"], name=op.f("fk_track_artists_track_id_tracks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("track_id", "artist_id", name=op.f("pk_track_artists")),
    )
    op.create_table(
        "track_rights",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("track_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("territory", sa.CHAR(length=2), nullable=True),
        sa.Column(
            "right_type",
            sa.Enum("stream", "download", "sync", name="right_type", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("holder_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("share_pct", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("share_pct > 0 AND share_pct <= 100", name=op.f("ck_track_rights_share_range")),
        sa.CheckConstraint(
            "territory IS NULL OR length(territory) = 2", name=op.f("ck_track_rights_territory_length")
        ),
        sa.ForeignKeyConstraint(
            ["holder_id"],
            ["rights_holders.id"],
            name=op.f("fk_track_rights_holder_id_rights_holders"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["track_id"], ["tracks.id"], name=op.f("fk_track_rights_track_id_tracks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_track_rights")),
    )
    with op.batch_alter_table("track_rights", schema=None) as batch_op:
        batch_op.create_index("ix_track_rights_lookup", ["track_id", "right_type", "territory"], unique=False)

    op.create_table(
        "track_variants",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("track_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("quality", sa.String(length=32), nullable=False),
        sa.Column("codec", sa.String(length=32), nullable=False),
        sa.Column("container", sa.String(length=16), nullable=False),
        sa.Column("bitrate_kbps", sa.Integer(), nullable=True),
        sa.Column("storage_key", sa.String(length=1000), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["track_id"], ["tracks.id"], name=op.f("fk_track_variants_track_id_tracks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_track_variants")),
        sa.UniqueConstraint("track_id", "quality", name="uq_track_variants_track_quality"),
    )
    op.create_table(
        "playback_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("track_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("position_ms", sa.Integer(), nullable=True),
        sa.Column("seconds_played", sa.Float(), nullable=False),
        sa.Column("quality", sa.String(length=32), nullable=True),
        sa.Column("territory", sa.CHAR(length=2), nullable=True),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["playback_sessions.id"],
            name=op.f("fk_playback_events_session_id_playback_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["track_id"], ["tracks.id"], name=op.f("fk_playback_events_track_id_tracks"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_playback_events_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playback_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_playback_events_event_id")),
    )
    with op.batch_alter_table("playback_events", schema=None) as batch_op:
        batch_op.create_index("ix_playback_events_track_time", ["track_id", "occurred_at"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(CAN_STREAM_SQL)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS can_stream(bigint, char(2))")
        op.execute("DROP FUNCTION IF EXISTS can_stream(bigint, char(2), timestamptz)")
    with op.batch_alter_table("playback_events", schema=None) as batch_op:
        batch_op.drop_index("ix_playback_events_track_time")

    op.drop_table("playback_events")
    op.drop_table("track_variants")
    with op.batch_alter_table("track_rights", schema=None) as batch_op:
        batch_op.drop_index("ix_track_rights_lookup")

    op.drop_table("track_rights")
    op.drop_table("track_artists")
    op.drop_table("playlist_tracks")
    op.drop_table("playback_sessions")
    op.drop_table("library_entries")
    op.drop_table("fingerprint_keys")
    with op.batch_alter_table("tracks", schema=None) as batch_op:
        batch_op.drop_index("ix_tracks_status")
        batch_op.drop_index("ix_tracks_source_checksum")

    op.drop_table("tracks")
    op.drop_table("releases")
    op.drop_table("playlists")
    op.drop_table("users")
    op.drop_table("rights_holders")
    with op.batch_alter_table("artists", schema=None) as batch_op:
        batch_op.drop_index("ix_artists_name")

    op.drop_table("artists")
