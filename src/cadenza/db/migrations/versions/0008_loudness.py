"""loudness and lyrics: EBU R128 figures on tracks and releases; a lyric_lines table

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 00:00:00

Tracks get their integrated loudness, loudness range, true peak and gating-block histogram
(catalog/loudness.py), and `lyrics_source`; releases get the album loudness and peak computed from their
tracks. `lyric_lines` holds lyrics line by line. Columns are added in place (no batch rebuild of
`tracks`, which would lose the search triggers of 0004 on SQLite, see 0007).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TRACK_COLUMNS = (
    ("loudness_lufs", sa.Float()),
    ("loudness_range_lu", sa.Float()),
    ("true_peak_dbtp", sa.Float()),
    ("loudness_blocks", sa.JSON()),
    ("lyrics_source", sa.String(length=16)),
)
_RELEASE_COLUMNS = (("loudness_lufs", sa.Float()), ("true_peak_dbtp", sa.Float()))


def upgrade() -> None:
    for name, type_ in _TRACK_COLUMNS:
        op.add_column("tracks", sa.Column(name, type_, nullable=True))
    for name, type_ in _RELEASE_COLUMNS:
        op.add_column("releases", sa.Column(name, type_, nullable=True))
    op.create_table(
        "lyric_lines",
        sa.Column("track_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["track_id"], ["tracks.id"], name=op.f("fk_lyric_lines_track_id_tracks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("track_id", "position", name=op.f("pk_lyric_lines")),
    )


def downgrade() -> None:
    op.drop_table("lyric_lines")
    for name, _ in reversed(_RELEASE_COLUMNS):
        op.drop_column("releases", name)
    for name, _ in reversed(_TRACK_COLUMNS):
        op.drop_column("tracks", name)
