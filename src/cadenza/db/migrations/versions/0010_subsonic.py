"""subsonic: per-user credentials for Subsonic clients (API key hash, encrypted app password)

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-30 13:00:00

See accounts/subsonic_credentials.py: the account password (an Argon2 hash) cannot answer the Subsonic
token scheme, so each listener makes credentials for their apps. A new table only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cadenza.db.base import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subsonic_credentials",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("api_key_hash", sa.String(length=64), nullable=False),
        sa.Column("app_password_enc", sa.String(length=500), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_subsonic_credentials_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subsonic_credentials")),
        sa.UniqueConstraint("api_key_hash", name=op.f("uq_subsonic_credentials_api_key_hash")),
    )
    op.create_index("ix_subsonic_credentials_user_id", "subsonic_credentials", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_subsonic_credentials_user_id", table_name="subsonic_credentials")
    op.drop_table("subsonic_credentials")
