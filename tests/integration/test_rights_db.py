"""can_stream: the Python rule and PostgreSQL's SQL function agree on every case."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from cadenza.catalog.models import Track
from cadenza.db.base import utcnow
from cadenza.errors import InvalidInput
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
