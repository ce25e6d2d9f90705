"""artwork: an artworks table; artwork_id on releases and tracks; releases.artwork_key dropped

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-01 00:00:00

Cover images are stored once per content hash (`artworks`, objects under `artwork/`, see
catalog/artwork.py); releases and tracks point at one. `releases.artwork_key` was never written by any
code: it is replaced by `releases.artwork_id` (the key layout is derived from the hash by one function,
so no key is stored). `tracks.artwork_problem` says why a picture embedded in the upload was not used.

Only this revision's own table and columns are touched, and never by rebuilding a table: on SQLite,
Alembic's batch mode would copy `tracks` and `releases` into new tables and silently lose the search
triggers of 0004. SQLite (3.35+) adds and drops these columns in place instead; the foreign keys are
column constraints (named, as the naming convention has them), which SQLite can drop with their column.
They have no ON DELETE action: an artwork that a release or track still uses cannot be deleted (SQLite
would not report such an action for a column constraint, so the models and the database would disagree).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cadenza.db.base import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LINKED = ("releases", "tracks")


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    op.create_table(
        "artworks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("mime", sa.String(length=32), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("variants", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artworks")),
        sa.UniqueConstraint("sha256", name=op.f("uq_artworks_sha256")),
    )
    for table in _LINKED:
        fk = f"fk_{table}_artwork_id_artworks"
        if _sqlite():
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN artwork_id INTEGER CONSTRAINT {fk} REFERENCES artworks (id)"
            )
        else:
            op.add_column(table, sa.Column("artwork_id", sa.BigInteger(), nullable=True))
            op.create_foreign_key(fk, table, "artworks", ["artwork_id"], ["id"])
    op.add_column("tracks", sa.Column("artwork_problem", sa.Text(), nullable=True))
    op.drop_column("releases", "artwork_key")


def downgrade() -> None:
    op.add_column("releases", sa.Column("artwork_key", sa.String(length=1000), nullable=True))
    op.drop_column("tracks", "artwork_problem")
    for table in _LINKED:
        if not _sqlite():
            op.drop_constraint(f"fk_{table}_artwork_id_artworks", table, type_="foreignkey")
        op.drop_column(table, "artwork_id")
    op.drop_table("artworks")
