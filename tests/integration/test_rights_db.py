"""can_stream: the Python rule and PostgreSQL's SQL function agree on every case."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from cadenza.catalog.models import Track
from cadenza.db.base import utcnow
from cadenza.errors import InvalidInput, NotFound
from cadenza.rights import service

NOW = utcnow()
HOUR = timedelta(hours=1)

# (rights granted: (type, territory, expires_at offset or None), asked territory, expected)
CASES = [
    ("worldwide", [("stream", None, None)], "DE", True),
    ("exact territory", [("stream", "DE", None)], "DE", True),
    ("territory lower-case request", [("stream", "DE", None)], "de", True),
    ("other territory", [("stream", "FR", None)], "DE", False),
    ("expired", [("stream", None, -HOUR)], "DE", False),
    ("expired exact", [("stream", "DE", -HOUR)], "DE", False),
    ("not yet expired", [("stream", "DE", HOUR)], "DE", True),
    ("download only", [("download", None, None)], "DE", False),
    ("sync only", [("sync", "DE", None)], "DE", False),
    ("no rights", [], "DE", False),
    ("expired worldwide, live exact", [("stream", None, -HOUR), ("stream", "DE", HOUR)], "DE", True),
    ("live elsewhere, expired here", [("stream", "FR", None), ("stream", "DE", -HOUR)], "DE", False),
]


@pytest.mark.parametrize(("name", "rights", "territory", "expected"), CASES, ids=[c[0] for c in CASES])
def test_python_and_sql_agree(
    engine: Engine, name: str, rights: list, territory: str, expected: bool
) -> None:
    with Session(engine) as s, s.begin():
        track = Track(title=f"case {name}")
        s.add(track)
        s.flush()
        holder = service.get_or_create_holder(s, name="Label")
        for kind, terr, offset in rights:
            service.grant(
                s,
                track_id=track.id,
                right_type=kind,
                territory=terr,
                holder_id=holder.id,
                expires_at=NOW + offset if offset is not None else None,
            )
        s.flush()
        assert service.can_stream(s, track_id=track.id, territory=territory) is expected
        if engine.dialect.name == "postgresql":
            sql = s.scalar(text("SELECT can_stream(:t, :c)"), {"t": track.id, "c": territory})
            assert sql is expected


def test_grant_rejects_bad_values(engine: Engine) -> None:
    with Session(engine) as s, s.begin():
        track = Track(title="x")
        s.add(track)
        s.flush()
        with pytest.raises(InvalidInput, match="ISO 3166"):
            service.grant(s, track_id=track.id, right_type="stream", territory="Germany")
        with pytest.raises(InvalidInput, match="right type"):
            service.grant(s, track_id=track.id, right_type="perform")


class _Recorder:
    """A cache that records which tracks it was told to forget (the collaborator, not the thing tested)."""

    def __init__(self) -> None:
        self.dropped: list[int] = []

    def drop(self, key: int) -> None:
        self.dropped.append(key)


def test_a_grant_or_revoke_drops_the_cached_track_only_once_it_commits(engine: Engine) -> None:
    """The service makes the side effect follow its change: after commit, never on a rollback (a dropped
    entry refilled before the commit would serve the old rights for a whole TTL)."""
    from decimal import Decimal

    from cadenza.db.engine import make_session_factory, transaction

    sessions = make_session_factory(engine)
    cache = _Recorder()
    with transaction(sessions) as s:
        track = Track(title="Song", source_checksum="0")
        s.add(track)
        s.flush()
        track_id = track.id
    with transaction(sessions) as s:
        right = service.grant_right(
            s, track_id=track_id, right_type="stream", territory="de", holder=" Label  One ",
            expires_at=None, share_pct=Decimal(100), caches=cache,
        )  # fmt: skip
        right_id = right.id
        assert cache.dropped == []  # not yet committed
    assert cache.dropped == [track_id]
    with sessions() as s:
        assert [(r.territory, r.holder.name) for r in service.list_rights(s, track_id=track_id)] == [
            ("DE", "Label One")
        ]
    with pytest.raises(RuntimeError), transaction(sessions) as s:
        service.revoke_right(s, right_id=right_id, caches=cache)
        raise RuntimeError("the request failed after the revoke")
    assert cache.dropped == [track_id]  # rolled back: nothing to forget, the right is still there
    with transaction(sessions) as s:
        service.revoke_right(s, right_id=right_id, caches=cache)
    assert cache.dropped == [track_id, track_id]
    with sessions() as s:
        assert service.list_rights(s, track_id=track_id) == []
    for call in (
        lambda s: service.list_rights(s, track_id=track_id + 999),
        lambda s: service.revoke_right(s, right_id=right_id, caches=cache),
    ):
        with pytest.raises(NotFound), transaction(sessions) as s:
            call(s)
