"""releases carry the count, length, plays and genre of their listed tracks, kept by triggers

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 21:10:00

An album listing shows, per release, the number, total length and plays of the tracks a listener may
see, and lists only releases that have one (`catalog.visibility.release_condition`). Computed per page,
that is an aggregate over every listed track: a page of 500 albums aggregated 5,000 track rows, and an
album list in any order but the primary key's (alphabetical by artist, most played, by genre, random)
hashed all 100,000 tracks of a catalog to learn which releases had one ready (20-40 ms on PostgreSQL).
Music servers keep these facts on the album row (Navidrome's `album.song_count`, `duration`,
`play_count`); here they are kept by the database itself, in the same statement as the change, so no
write path can forget them:

- a track inserted, deleted, or whose status, release, length or genre changes: the release it left and
  the one it joined are recounted from their tracks (a few rows, through `ix_tracks_release_id`);
- only a track's play count changes (the royalty rollups, thousands of rows a statement): the
  difference is added to its release's plays, without a recount.

On PostgreSQL the triggers run once per statement over its transition tables, so a statement that
changes thousands of tracks updates each release once, set-based (a rollup's play counts; a COPY); on
SQLite (no statement triggers) once per row.

"Listed" is `catalog.visibility.listable_track` (status ready); `tests/integration/test_release_listing.py`
holds these columns equal to that rule's aggregate after every kind of change, on both databases.
The plays are not indexed: an index on them would turn every play-count update of a release into an
index update (no HOT update), and ordering 10,000 releases by plays costs 3-5 ms without one. Tracks get
an index by genre then release (getAlbumList2 byGenre: the releases having a track of the genre, found
from the genre rather than by probing every release).
"""

from collections.abc import Sequence

from alembic import op

from cadenza.db.sql_scripts import run_script

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The recount of the releases `{which}` from their ready tracks (one statement, both dialects).
RECOUNT = """
    UPDATE releases SET (listed_tracks, listed_seconds, listed_plays, listed_genre) = (
        SELECT count(t.id), coalesce(sum(t.duration_sec), 0), coalesce(sum(t.play_count), 0), max(t.genre)
        FROM tracks t WHERE t.release_id = releases.id AND t.status = 'ready'
    ) WHERE {which};
"""

# An update that changes what a listing counts (vs one that only adds plays), in SQLite's row triggers.
SQLITE_COUNTED_CHANGE = (
    "NEW.status IS NOT OLD.status OR NEW.release_id IS NOT OLD.release_id"
    " OR NEW.duration_sec IS NOT OLD.duration_sec OR NEW.genre IS NOT OLD.genre"
)
ADD_PLAYS = """
    UPDATE releases SET listed_plays = listed_plays + NEW.play_count - OLD.play_count
    WHERE id = NEW.release_id;
"""

COLUMNS = """
ALTER TABLE releases ADD COLUMN listed_tracks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE releases ADD COLUMN listed_seconds FLOAT NOT NULL DEFAULT 0;
ALTER TABLE releases ADD COLUMN listed_plays BIGINT NOT NULL DEFAULT 0;
ALTER TABLE releases ADD COLUMN listed_genre VARCHAR(100);
"""
INDEXES = """
CREATE INDEX ix_tracks_genre_release_id ON tracks (genre, release_id);
"""

# PostgreSQL: statement-level triggers over the statement's transition tables, so that a statement
# changing many tracks (the rollups adding plays to thousands, a bulk COPY) updates each release once,
# set-based, instead of once per track row. Three lessons, measured (bench/release_listing.py):
# - the releases whose counted facts changed are found as set differences of the before and after rows
#   (hashed): the transition tables have no index, and a join of the two compares every pair;
# - a statement that changes nothing counted (a stage, a timestamp: most of ingest's updates) stops at a
#   cheap check, before any statement on releases;
# - the statements on releases are planned at each run (EXECUTE) for the real number of rows: a plan
#   PL/pgSQL cached from a statement of thousands of rows scans every release for each one-row change
#   after it (21 ms on 2,000 releases with dead rows, 0.5 ms planned for one row).
PG_COUNTED_COLUMNS = "SELECT id, status, release_id, duration_sec, genre FROM "
PG_RECOUNTED = (
    "SELECT release_id FROM ("
    + PG_COUNTED_COLUMNS + "changed_old EXCEPT " + PG_COUNTED_COLUMNS + "changed_new) AS before_only"
    + " WHERE release_id IS NOT NULL UNION SELECT release_id FROM ("
    + PG_COUNTED_COLUMNS + "changed_new EXCEPT " + PG_COUNTED_COLUMNS + "changed_old) AS after_only"
    + " WHERE release_id IS NOT NULL"
)  # fmt: skip
PG_ADD_PLAYS = """
    UPDATE releases SET listed_plays = listed_plays + d.plays
    FROM (
        SELECT release_id, sum(plays) AS plays FROM (
            SELECT release_id, play_count AS plays FROM changed_new
            WHERE status = 'ready' AND release_id IS NOT NULL
            UNION ALL
            SELECT release_id, -play_count FROM changed_old WHERE status = 'ready' AND release_id IS NOT NULL
        ) AS both_sides
        GROUP BY release_id HAVING sum(plays) <> 0
    ) AS d
    WHERE releases.id = d.release_id
"""


READY_ROWS = "WHERE status = 'ready' AND release_id IS NOT NULL"


def _pg_function(name: str, guard: str, *statements: str) -> str:
    """A trigger function that stops when `guard` finds nothing to do, else runs `statements`, each
    planned at this run."""
    run = "".join(f"\n    EXECUTE $run${stmt.strip().rstrip(';')}$run$;" for stmt in statements)
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
        f"    IF NOT EXISTS ({guard}) THEN\n        RETURN NULL;\n    END IF;{run}\n"
        "    RETURN NULL;\nEND $$;\n"
    )


POSTGRES = (
    COLUMNS
    + _pg_function(
        "release_listing_tracks_inserted",
        f"SELECT FROM changed_new {READY_ROWS}",
        RECOUNT.format(which=f"id IN (SELECT release_id FROM changed_new {READY_ROWS})"),
    )
    + _pg_function(
        "release_listing_tracks_deleted",
        f"SELECT FROM changed_old {READY_ROWS}",
        RECOUNT.format(which=f"id IN (SELECT release_id FROM changed_old {READY_ROWS})"),
    )
    + _pg_function(
        "release_listing_tracks_updated",
        # a counted column or a play count differs between before and after, for some row
        "SELECT id, status, release_id, duration_sec, genre, play_count FROM changed_new"
        " EXCEPT SELECT id, status, release_id, duration_sec, genre, play_count FROM changed_old",
        # plays first: each release's listed plays after less before (no counted column changed means
        # the same listed tracks on both sides); then the releases whose counted columns changed are
        # recounted whole, plays included
        PG_ADD_PLAYS,
        RECOUNT.format(which="id IN (" + PG_RECOUNTED + ")"),
    )
    + """
CREATE TRIGGER release_listing_tracks_inserted AFTER INSERT ON tracks
    REFERENCING NEW TABLE AS changed_new
    FOR EACH STATEMENT EXECUTE FUNCTION release_listing_tracks_inserted();
CREATE TRIGGER release_listing_tracks_deleted AFTER DELETE ON tracks
    REFERENCING OLD TABLE AS changed_old
    FOR EACH STATEMENT EXECUTE FUNCTION release_listing_tracks_deleted();
CREATE TRIGGER release_listing_tracks_updated AFTER UPDATE ON tracks
    REFERENCING OLD TABLE AS changed_old NEW TABLE AS changed_new
    FOR EACH STATEMENT EXECUTE FUNCTION release_listing_tracks_updated();
"""
    + RECOUNT.format(which="true")
    + INDEXES
)

SQLITE = (
    COLUMNS
    + """
CREATE TRIGGER release_listing_track_inserted AFTER INSERT ON tracks
WHEN NEW.release_id IS NOT NULL AND NEW.status = 'ready' BEGIN"""
    + RECOUNT.format(which="id = NEW.release_id")
    + """END;
CREATE TRIGGER release_listing_track_deleted AFTER DELETE ON tracks
WHEN OLD.release_id IS NOT NULL AND OLD.status = 'ready' BEGIN"""
    + RECOUNT.format(which="id = OLD.release_id")
    + """END;
CREATE TRIGGER release_listing_track_counted AFTER UPDATE OF status, release_id, duration_sec, genre ON tracks
WHEN """
    + SQLITE_COUNTED_CHANGE
    + """ BEGIN"""
    + RECOUNT.format(which="id IN (OLD.release_id, NEW.release_id)")
    + """END;
CREATE TRIGGER release_listing_track_played AFTER UPDATE OF play_count ON tracks
WHEN NEW.status = 'ready' AND NEW.play_count IS NOT OLD.play_count AND NOT ("""
    + SQLITE_COUNTED_CHANGE
    + """) BEGIN"""
    + ADD_PLAYS
    + """END;
"""
    + RECOUNT.format(which="1")
    + INDEXES
)

DROP_POSTGRES = """
DROP INDEX IF EXISTS ix_tracks_genre_release_id;
DROP TRIGGER IF EXISTS release_listing_tracks_inserted ON tracks;
DROP TRIGGER IF EXISTS release_listing_tracks_deleted ON tracks;
DROP TRIGGER IF EXISTS release_listing_tracks_updated ON tracks;
DROP FUNCTION IF EXISTS release_listing_tracks_inserted();
DROP FUNCTION IF EXISTS release_listing_tracks_deleted();
DROP FUNCTION IF EXISTS release_listing_tracks_updated();
ALTER TABLE releases DROP COLUMN listed_genre, DROP COLUMN listed_plays, DROP COLUMN listed_seconds,
    DROP COLUMN listed_tracks;
"""

DROP_SQLITE = """
DROP INDEX IF EXISTS ix_tracks_genre_release_id;
DROP TRIGGER IF EXISTS release_listing_track_inserted;
DROP TRIGGER IF EXISTS release_listing_track_deleted;
DROP TRIGGER IF EXISTS release_listing_track_counted;
DROP TRIGGER IF EXISTS release_listing_track_played;
ALTER TABLE releases DROP COLUMN listed_genre;
ALTER TABLE releases DROP COLUMN listed_plays;
ALTER TABLE releases DROP COLUMN listed_seconds;
ALTER TABLE releases DROP COLUMN listed_tracks;
"""


def upgrade() -> None:
    run_script(POSTGRES if op.get_bind().dialect.name == "postgresql" else SQLITE)


def downgrade() -> None:
    run_script(DROP_POSTGRES if op.get_bind().dialect.name == "postgresql" else DROP_SQLITE)
