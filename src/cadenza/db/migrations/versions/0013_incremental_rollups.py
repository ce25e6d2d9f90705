"""incremental rollups: dirty sessions and each session's counted outcome

Revision ID: 0013
Revises: 0010
Create Date: 2026-11-30 15:00:00

See cadenza.royalties.rollups: writers mark the sessions they touch (`playback_dirty_sessions`) and a
refresh recounts only those, keeping each session's outcome in `playback_session_counts` to move the
rollups by the difference. The outcomes of data counted before this revision are not known, so every
day that has sessions is marked for a full rebuild, which fills them in (`cadenza royalties refresh`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cadenza.db.base import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "playback_dirty_sessions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playback_dirty_sessions")),
    )
    op.create_table(
        "playback_session_counts",
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("track_id", _ID, nullable=False),
        sa.Column("user_id", _ID, nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("territory", sa.CHAR(length=2), nullable=False),
        sa.Column("user_tier", sa.String(length=16), nullable=False),
        sa.Column("quality", sa.String(length=32), nullable=False),
        sa.Column("credited_ms", sa.BigInteger(), nullable=False),
        sa.Column("qualified", sa.Integer(), nullable=False),
        sa.Column("counted", sa.Integer(), nullable=False),
        sa.Column("over_cap", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_playback_session_counts")),
    )
    with op.batch_alter_table("playback_session_counts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_playback_session_counts_group", ["day", "user_id", "track_id"], unique=False
        )
    op.execute("INSERT INTO playback_dirty_days (day) SELECT DISTINCT day FROM playback_sessions")


def downgrade() -> None:
    with op.batch_alter_table("playback_session_counts", schema=None) as batch_op:
        batch_op.drop_index("ix_playback_session_counts_group")
    op.drop_table("playback_session_counts")
    op.drop_table("playback_dirty_sessions")
