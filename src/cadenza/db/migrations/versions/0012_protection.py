"""protection: per-track protection policy and wrapped content keys

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 15:00:00

See protection/: an administrator protects a track; its CMAF segments are then stored encrypted (cenc)
under a content key kept here wrapped by the configured master key. New tables only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cadenza.db.base import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "protection_policies",
        sa.Column("track_id", BIG, nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        sa.Column("updated_by", BIG, nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["track_id"],
            ["tracks.id"],
            name=op.f("fk_protection_policies_track_id_tracks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
            name=op.f("fk_protection_policies_updated_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("track_id", name=op.f("pk_protection_policies")),
    )
    op.create_table(
        "content_keys",
        sa.Column("id", BIG, nullable=False),
        sa.Column("track_id", BIG, nullable=False),
        sa.Column("kid", sa.CHAR(length=32), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("master_key_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("retired_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["track_id"], ["tracks.id"], name=op.f("fk_content_keys_track_id_tracks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_keys")),
        sa.UniqueConstraint("kid", name=op.f("uq_content_keys_kid")),
    )
    op.create_index("ix_content_keys_track", "content_keys", ["track_id"])


def downgrade() -> None:
    op.drop_index("ix_content_keys_track", table_name="content_keys")
    op.drop_table("content_keys")
    op.drop_table("protection_policies")
