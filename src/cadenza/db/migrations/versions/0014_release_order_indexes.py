"""indexes for album lists in order (Subsonic getAlbumList2 newest, byGenre, alphabeticalByName)

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 19:45:00

`browse.release_page` orders the releases a viewer may see by `created_at DESC, id DESC` (newest, and
byGenre) or by `lower(title), id` (alphabeticalByName), then takes a page. Without an index in that order
PostgreSQL checks the visibility of every release (a hash of all of `tracks`) and sorts them all; with
one it walks the index and checks releases until the page is full (bench/subsonic_sync.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_releases_created_at_id", "releases", ["created_at", "id"])
    op.create_index("ix_releases_lower_title_id", "releases", [sa.text("lower(title)"), "id"])


def downgrade() -> None:
    op.drop_index("ix_releases_lower_title_id", table_name="releases")
    op.drop_index("ix_releases_created_at_id", table_name="releases")
