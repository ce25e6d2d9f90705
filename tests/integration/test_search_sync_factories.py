"""The search index follows catalog edits made through any session factory, even one made after others
were discarded (SQLAlchemy's event registry, keyed by id(), took such a factory for an old one)."""

from __future__ import annotations

import gc

from sqlalchemy import Engine

from cadenza.db.engine import make_session_factory, reading, transaction
from cadenza.search import service as search
from cadenza.search.sync import keep_in_step
from library_world import add_track


def test_every_new_factory_keeps_the_index_in_step(engine: Engine) -> None:
    for i in range(25):
        sessions = make_session_factory(engine)
        keep_in_step(sessions)
        keep_in_step(sessions)  # a second call adds nothing
        with transaction(sessions) as s:
            track_id = add_track(s, title=f"Zebra crossing {i}", artist="Quokka").id
        with reading(sessions) as s:
            hits = search.search(s, q=f"quokka zebra crossing {i}", limit=5, facets=False).hits
        assert track_id in [h.id for h in hits], f"factory {i}: the new track was not indexed"
        del sessions
        gc.collect()  # the next factory may land where this one was
