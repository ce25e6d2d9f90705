"""A release's album loudness follows the set of its ready tracks: computed again, in the same
transaction, when a track leaves it, joins another, is taken down or put back, or is deleted (both
databases). The arithmetic itself (gating the merged blocks) is `tests/unit/test_loudness.py`'s."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cadenza.catalog import loudness
from cadenza.catalog import service as catalog
from cadenza.catalog.models import Release, Track, TrackStatus
from cadenza.catalog.visibility import Viewer
from cadenza.db.base import utcnow
from cadenza.db.engine import make_session_factory, transaction
from cadenza.errors import Conflict, InvalidInput, NotFound
from library_world import add_track

QUIET, LOUD = -16.0, -10.0  # each track is a steady signal at this loudness, peaking 1 dB above it


class Dropped:
    """A delivery cache that records what it was told to forget."""

    def __init__(self) -> None:
        self.keys: list[int] = []

    def drop(self, key: int) -> None:
        self.keys.append(key)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def _measured(lufs: float) -> loudness.Loudness:
    return loudness.Loudness(lufs, 0.0, lufs + 1, loudness.Blocks.of([lufs] * 600))


def _album(sessions: sessionmaker[Session], title: str) -> tuple[float | None, float | None]:
    with sessions() as s:
        r = s.query(Release).filter_by(title=title).one()
        return r.loudness_lufs, r.true_peak_dbtp


@pytest.fixture
def albums(sessions: sessionmaker[Session]) -> dict[str, int]:
    """ "Mixed" holds a quiet and a loud track; "Other" one quiet track."""
    ids: dict[str, int] = {}
    with transaction(sessions) as s:
        for name, release, lufs in [
            ("quiet", "Mixed", QUIET),
            ("loud", "Mixed", LOUD),
            ("other", "Other", QUIET),
        ]:
            t = add_track(s, title=name, release=release)
            catalog.record_loudness(s, track=t, measured=_measured(lufs))
            ids[name] = t.id
    return ids


def test_an_album_is_measured_over_all_its_ready_tracks(
    sessions: sessionmaker[Session], albums: dict[str, int]
) -> None:
    lufs, peak = _album(sessions, "Mixed")
    assert lufs is not None and QUIET + 3 < lufs < LOUD - 1  # energy, not the mean of LUFS
    assert peak == pytest.approx(LOUD + 1)
    assert _album(sessions, "Other") == (pytest.approx(QUIET), pytest.approx(QUIET + 1))


def test_a_track_leaving_its_release_takes_its_loudness_with_it(
    sessions: sessionmaker[Session], albums: dict[str, int]
) -> None:
    with transaction(sessions) as s:
        catalog.move_track(s, track_id=albums["loud"], release_id=None)
    assert _album(sessions, "Mixed") == (pytest.approx(QUIET), pytest.approx(QUIET + 1))


def test_a_track_moving_to_another_release_changes_both_albums(
    sessions: sessionmaker[Session], albums: dict[str, int]
) -> None:
    with sessions() as s:
        other = s.query(Release).filter_by(title="Other").one().id
    with transaction(sessions) as s:
        catalog.move_track(s, track_id=albums["quiet"], release_id=other)
    assert _album(sessions, "Mixed") == (pytest.approx(LOUD), pytest.approx(LOUD + 1))
    assert _album(sessions, "Other") == (pytest.approx(QUIET), pytest.approx(QUIET + 1))  # two quiet ones
    with transaction(sessions) as s:
        catalog.move_track(s, track_id=albums["loud"], release_id=other)
    lufs, peak = _album(sessions, "Other")
    assert lufs is not None and QUIET < lufs < LOUD and peak == pytest.approx(LOUD + 1)
    assert _album(sessions, "Mixed") == (None, None)  # no measured track left on it


def test_taking_a_track_down_and_back_follows_in_its_album(
    sessions: sessionmaker[Session], albums: dict[str, int]
) -> None:
    both = _album(sessions, "Mixed")
    dropped = Dropped()
    with transaction(sessions) as s:
        catalog.take_down(s, track_id=albums["loud"], reason="a rights claim", caches=dropped)
    assert dropped.keys == [albums["loud"]]  # after the commit: this process stops streaming it at once
    assert _album(sessions, "Mixed") == (pytest.approx(QUIET), pytest.approx(QUIET + 1))
    with sessions() as s:
        gone = s.get(Track, albums["loud"])
        assert gone is not None and gone.status == TrackStatus.taken_down
        listed = catalog.list_tracks(s, viewer=Viewer(user_id=1))
        assert albums["loud"] not in [t.id for t in listed]
    with transaction(sessions) as s:
        catalog.reinstate(s, track_id=albums["loud"], caches=dropped)
    assert _album(sessions, "Mixed") == (pytest.approx(both[0]), pytest.approx(both[1]))


def test_deleting_a_track_recomputes_its_album(
    sessions: sessionmaker[Session], albums: dict[str, int]
) -> None:
    dropped = Dropped()
    with transaction(sessions) as s:
        assert catalog.delete_track(s, track_id=albums["quiet"], caches=dropped, at=utcnow()) is not None
    assert _album(sessions, "Mixed") == (pytest.approx(LOUD), pytest.approx(LOUD + 1))
    assert dropped.keys == [albums["quiet"]]
    with sessions() as s:
        gone = s.get(Track, albums["quiet"])  # a tombstone for its play history (catalog.service)
        assert gone is not None and gone.status == TrackStatus.deleted and gone.media_prefix is None
        with pytest.raises(NotFound):
            catalog.visible_track(s, viewer=Viewer(user_id=1, is_admin=True), track_id=albums["quiet"])


def test_refused_changes_change_nothing(sessions: sessionmaker[Session], albums: dict[str, int]) -> None:
    before = _album(sessions, "Mixed")
    dropped = Dropped()
    with pytest.raises(NotFound, match="release 999999 not found"), transaction(sessions) as s:
        catalog.move_track(s, track_id=albums["loud"], release_id=999_999)
    with pytest.raises(InvalidInput, match="reason is empty"), transaction(sessions) as s:
        catalog.take_down(s, track_id=albums["loud"], reason="  ", caches=dropped)
    with pytest.raises(Conflict, match="not taken down"), transaction(sessions) as s:
        catalog.reinstate(s, track_id=albums["loud"], caches=dropped)
    with pytest.raises(NotFound, match="track 999999 not found"), transaction(sessions) as s:
        catalog.delete_track(s, track_id=999_999, caches=dropped, at=utcnow())
    assert _album(sessions, "Mixed") == before and dropped.keys == []
    with transaction(sessions) as s:
        t = add_track(s, title="unfinished", release="Mixed", status=TrackStatus.processing)
    with pytest.raises(Conflict, match="is processing"), transaction(sessions) as s:
        catalog.take_down(s, track_id=t.id, reason="claim", caches=dropped)
    with pytest.raises(Conflict, match="still processing"), transaction(sessions) as s:
        catalog.delete_track(s, track_id=t.id, caches=dropped, at=utcnow())
