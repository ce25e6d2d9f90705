"""royalties: session day and tier, event timing in ms, daily rollups, discards, dirty days

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 01:27:46.284999

Existing sessions and events are backfilled (day, listener tier, elapsed and played milliseconds) and
every day that has sessions is marked for a rollup refresh, so `cadenza royalties refresh` counts them.

For ingestion speed (see cadenza.royalties.models.PlaybackEvent): a player's event id becomes unique per
session instead of globally, and events lose the per-row foreign-key check on track_id (the session's
own keys still hold; deleting a track still deletes its events through the session).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL_POSTGRESQL = """
UPDATE playback_sessions SET day = (started_at AT TIME ZONE 'UTC')::date;
UPDATE playback_sessions s SET user_tier = u.tier FROM users u WHERE u.id = s.user_id;
UPDATE playback_sessions s SET quality = e.quality
  FROM playback_events e WHERE e.session_id = s.id AND e.kind = 'start';
UPDATE playback_events e
  SET session_day = s.day,
      elapsed_ms = LEAST(2147483647, GREATEST(0,
        FLOOR(EXTRACT(EPOCH FROM (e.occurred_at - s.started_at)) * 1000)))::integer,
      played_ms = LEAST(2147483647, GREATEST(0, ROUND(e.seconds_played * 1000)))::integer
  FROM playback_sessions s WHERE s.id = e.session_id;
"""

# SQLite keeps times as "YYYY-MM-DD HH:MM:SS.ffffff" text: whole seconds from strftime, microseconds from
# the text, so elapsed milliseconds are exact (julianday's floating point is not).
BACKFILL_SQLITE = """
UPDATE playback_sessions SET day = date(started_at);
UPDATE playback_sessions SET user_tier = (SELECT tier FROM users WHERE users.id = playback_sessions.user_id);
UPDATE playback_sessions SET quality = (
  SELECT MIN(quality) FROM playback_events e WHERE e.session_id = playback_sessions.id AND e.kind = 'start');
UPDATE playback_events SET
  session_day = (SELECT day FROM playback_sessions s WHERE s.id = playback_events.session_id),
  elapsed_ms = (
    SELECT MAX(0, ((strftime('%s', playback_events.occurred_at) - strftime('%s', s.started_at)) * 1000000
                   + CAST(substr(playback_events.occurred_at, 21, 6) AS INTEGER)
                   - CAST(substr(s.started_at, 21, 6) AS INTEGER)) / 1000)
    FROM playback_sessions s WHERE s.id = playback_events.session_id),
  played_ms = CAST(ROUND(seconds_played * 1000) AS INTEGER);
"""


def upgrade() -> None:
    op.create_table(
        "playback_dirty_days",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playback_dirty_days")),
    )
    with op.batch_alter_table("playback_dirty_days", schema=None) as batch_op:
        batch_op.create_index("ix_playback_dirty_days_day", ["day"], unique=False)

    op.create_table(
        "playback_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("track_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("territory", sa.CHAR(length=2), nullable=False),
        sa.Column("quality", sa.String(length=32), nullable=False),
        sa.Column("user_tier", sa.String(length=16), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("streams", sa.Integer(), nullable=False),
        sa.Column("discarded", sa.Integer(), nullable=False),
        sa.Column("played_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "track_id", "territory", "quality", "user_tier", name=op.f("pk_playback_daily")
        ),
    )
    with op.batch_alter_table("playback_daily", schema=None) as batch_op:
        batch_op.create_index(
            "ix_playback_daily_territory",
            ["territory", "day", "track_id"],
            unique=False,
            postgresql_include=["streams", "discarded"],
        )

    op.create_table(
        "playback_discards",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("track_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("qualified", sa.Integer(), nullable=False),
        sa.Column("discarded", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["track_id"], ["tracks.id"], name=op.f("fk_playback_discards_track_id_tracks"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_playback_discards_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("day", "user_id", "track_id", name=op.f("pk_playback_discards")),
    )

    # New columns start nullable, are backfilled, then made NOT NULL (a table may already hold sessions).
    # playback_sessions is never re-created on SQLite: dropping the old copy would cascade-delete every
    # event (foreign keys are on, and SQLite cannot switch them off inside the migration's transaction).
    # So there `day` is added NOT NULL at once, with a placeholder default that the backfill overwrites.
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("playback_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_day", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("elapsed_ms", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("played_ms", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("playback_rate", sa.Float(), nullable=True))
    if postgres:
        op.add_column("playback_sessions", sa.Column("day", sa.Date(), nullable=True))
    else:
        op.add_column(
            "playback_sessions", sa.Column("day", sa.Date(), nullable=False, server_default="1970-01-01")
        )
    op.add_column("playback_sessions", sa.Column("user_tier", sa.String(length=16), nullable=True))
    op.add_column("playback_sessions", sa.Column("quality", sa.String(length=32), nullable=True))

    for statement in (BACKFILL_POSTGRESQL if postgres else BACKFILL_SQLITE).split(";"):
        if statement.strip():
            op.execute(statement)
    op.execute("INSERT INTO playback_dirty_days (day) SELECT DISTINCT day FROM playback_sessions")

    with op.batch_alter_table("playback_events", schema=None) as batch_op:
        batch_op.alter_column("session_day", existing_type=sa.Date(), nullable=False)
        batch_op.drop_constraint("uq_playback_events_event_id", type_="unique")
        batch_op.drop_constraint("fk_playback_events_track_id_tracks", type_="foreignkey")
        batch_op.create_unique_constraint("uq_playback_events_session_event", ["session_id", "event_id"])
        batch_op.create_index(
            "ix_playback_events_counting",
            ["session_day", "session_id", "elapsed_ms"],
            unique=False,
            postgresql_include=["played_ms", "quality"],
        )
    if postgres:
        op.alter_column("playback_sessions", "day", existing_type=sa.Date(), nullable=False)
    op.create_index("ix_playback_sessions_day", "playback_sessions", ["day"], unique=False)
    op.create_index("ix_playback_sessions_track_id", "playback_sessions", ["track_id"], unique=False)
    op.create_index("ix_playback_sessions_user_id", "playback_sessions", ["user_id"], unique=False)

    if postgres:
        # Counting reads events through an index-only scan, which needs the visibility map: let autovacuum
        # visit this insert-only table after 2% new rows instead of the default 20%.
        op.execute("ALTER TABLE playback_events SET (autovacuum_vacuum_insert_scale_factor = 0.02)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE playback_events RESET (autovacuum_vacuum_insert_scale_factor)")
    # Native DROP COLUMN, so that SQLite does not re-create playback_sessions (see upgrade).
    op.drop_index("ix_playback_sessions_user_id", table_name="playback_sessions")
    op.drop_index("ix_playback_sessions_track_id", table_name="playback_sessions")
    op.drop_index("ix_playback_sessions_day", table_name="playback_sessions")
    op.drop_column("playback_sessions", "quality")
    op.drop_column("playback_sessions", "user_tier")
    op.drop_column("playback_sessions", "day")

    with op.batch_alter_table("playback_events", schema=None) as batch_op:
        batch_op.drop_index("ix_playback_events_counting", postgresql_include=["played_ms", "quality"])
        batch_op.drop_constraint("uq_playback_events_session_event", type_="unique")
        batch_op.create_foreign_key(
            "fk_playback_events_track_id_tracks", "tracks", ["track_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_unique_constraint("uq_playback_events_event_id", ["event_id"])
        batch_op.drop_column("playback_rate")
        batch_op.drop_column("played_ms")
        batch_op.drop_column("elapsed_ms")
        batch_op.drop_column("session_day")

    op.drop_table("playback_discards")
    with op.batch_alter_table("playback_daily", schema=None) as batch_op:
        batch_op.drop_index("ix_playback_daily_territory", postgresql_include=["streams", "discarded"])

    op.drop_table("playback_daily")
    with op.batch_alter_table("playback_dirty_days", schema=None) as batch_op:
        batch_op.drop_index("ix_playback_dirty_days_day")

    op.drop_table("playback_dirty_days")
