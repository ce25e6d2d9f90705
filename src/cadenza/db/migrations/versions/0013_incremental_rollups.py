"""incremental rollups (dirty sessions, each session's counted outcome); bulk import batches and items

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 15:00:00

See cadenza.royalties.rollups: writers mark the sessions they touch (`playback_dirty_sessions`) and a
refresh recounts only those, keeping each session's outcome in `playback_session_counts` to move the
rollups by the difference. The outcomes of data counted before this revision are not known, so every
day that has sessions is marked for a full rebuild, which fills them in (`cadenza royalties refresh`).

`import_batches` / `import_items`: the durable per-file state of `cadenza import` (ingest/bulk.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cadenza.db.base import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
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

    op.create_table(
        "import_batches",
        sa.Column("id", _ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_batches")),
        sa.UniqueConstraint("name", name=op.f("uq_import_batches_name")),
    )
    op.create_table(
        "import_items",
        sa.Column("id", _ID, nullable=False),
        sa.Column("batch_id", _ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=4096), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("checksum", sa.String(length=64), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("track_id", _ID, nullable=True),
        sa.Column("duplicate_of_item", _ID, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["import_batches.id"],
            name=op.f("fk_import_items_batch_id_import_batches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["track_id"], ["tracks.id"], name=op.f("fk_import_items_track_id_tracks"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_items")),
        sa.UniqueConstraint("batch_id", "path", name="uq_import_items_batch_path"),
    )
    with op.batch_alter_table("import_items", schema=None) as batch_op:
        batch_op.create_index("ix_import_items_batch_state", ["batch_id", "state", "position"], unique=False)
        batch_op.create_index("ix_import_items_batch_checksum", ["batch_id", "checksum"], unique=False)
        batch_op.create_index("ix_import_items_track_id", ["track_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("import_items", schema=None) as batch_op:
        batch_op.drop_index("ix_import_items_track_id")
        batch_op.drop_index("ix_import_items_batch_checksum")
        batch_op.drop_index("ix_import_items_batch_state")
    op.drop_table("import_items")
    op.drop_table("import_batches")
    with op.batch_alter_table("playback_session_counts", schema=None) as batch_op:
        batch_op.drop_index("ix_playback_session_counts_group")
    op.drop_table("playback_session_counts")
    op.drop_table("playback_dirty_sessions")
