"""search: exact-match keys as impact-ordered postings on PostgreSQL

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 00:00:00

The exact tier read every document holding a whole-field key and sorted them (a common one-word title
holds thousands). Each key is now also a posting, `=<field><key>` (words are [a-z0-9]+, so no word can
take that form), so the best exact matches are the first entries of one index range, as for words; the
postings' trigger already keeps them ranked and removes them with their document. SQLite is unchanged.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
ALTER TABLE search_postings ALTER COLUMN term TYPE VARCHAR(310);
INSERT INTO search_postings (term, doc_id, kind, ref_id, popularity, recency, genre, release_date)
SELECT '=' || k.field || k.key, d.id, d.kind, d.ref_id, d.popularity, d.recency, d.genre, d.release_date
FROM search_keys k JOIN search_documents d ON d.id = k.doc_id;
"""

DOWNGRADE = """
DELETE FROM search_postings WHERE left(term, 1) = '=';
ALTER TABLE search_postings ALTER COLUMN term TYPE VARCHAR(60);
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.get_bind().exec_driver_sql(UPGRADE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.get_bind().exec_driver_sql(DOWNGRADE)
