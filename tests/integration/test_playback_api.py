"""Playback events through the HTTP API on both databases: stream endpoint → session → event batches →
rollups, with exact counts around the 30-second rule, seeks, pauses, duplicates and late arrivals."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, select, update

from cadenza.bootstrap import App, build_collaborators
from cadenza.catalog.models import Track, TrackStatus
from cadenza.db.base import Base
from cadenza.db.engine import transaction
from cadenza.rights import service as rights
from cadenza.royalties import rollups
from cadenza.royalties.ingest import Ingestor, SessionDirectory
from cadenza.royalties.models import (
    PlaybackDaily,
    PlaybackDirtyDay,
    PlaybackDirtySession,
    PlaybackDiscard,
    PlaybackEvent,
    PlaybackSession,
    PlaybackSessionCount,
)
from cadenza.royalties.recorder import SessionRecorder
from cadenza.royalties.rules import Royalties
from cadenza.web.api import playback
from cadenza.web.app import create_app
from conftest import IdleRunner, create_user, make_settings


class Clock:
    """The server's clock as the events endpoint sees it: ahead of the real one, so that sessions opened
    a moment ago have minutes of history without the test waiting for them."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC) + timedelta(minutes=30)

    def __call__(self) -> float:
        return self.now.timestamp()


@dataclass
class Api:
    client: TestClient
    app: FastAPI
    state: App
    engine: Engine
    clock: Clock
    track: int
    fan: str
    other: str
    admin: str

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.fan}"}

    def stream(self, token: str | None = None) -> tuple[str, datetime]:
        """A new session from the stream endpoint, and when it started (read back from the database)."""
        resp = self.client.get(f"/api/tracks/{self.track}/stream", headers=self.auth(token))
        assert resp.status_code == 200, resp.text
        sid = resp.json()["session_id"]
        self.state.recorder.flush()
        with self.state.c.sessions() as s:
            session = s.get(PlaybackSession, sid)
            assert session is not None
            return sid, session.started_at

    def post(self, events: list[dict], token: str | None = None) -> dict:
        body = {"sent_at": self.clock.now.isoformat(), "events": events}
        resp = self.client.post("/api/playback/events", json=body, headers=self.auth(token))
        assert resp.status_code == 200, resp.text
        return resp.json()

    def refresh(self) -> None:
        rollups.refresh(self.engine, rules=Royalties())

    def rows(self) -> list[rollups.StatRow]:
        """The test track's rollups around today."""
        with self.state.c.sessions() as s:
            today = datetime.now(UTC).date()
            rows = rollups.stats(s, start=today - timedelta(days=1), end=today + timedelta(days=2))
        return [r for r in rows if r.track_id == self.track]

    def counts(self) -> tuple[int, int, int]:
        """(sessions, streams, discarded) of the test track, all days."""
        rows = self.rows()
        return (
            sum(r.sessions for r in rows if r.track_id == self.track),
            sum(r.streams for r in rows if r.track_id == self.track),
            sum(r.discarded for r in rows if r.track_id == self.track),
        )


def event(
    session: str, start: datetime, at: float, seconds: float, kind: str = "progress", **extra: object
) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "session_id": session,
        "kind": kind,
        "occurred_at": (start + timedelta(seconds=at)).isoformat(),
        "seconds_played": seconds,
        "quality": "aac_256",
        **extra,
    }


def listen(session: str, start: datetime, total: float, every: float = 10.0) -> list[dict]:
    """Honest heartbeats every `every` seconds until `total` seconds were played, then a stop."""
    out, played = [], 0.0
    while played < total:
        step = min(every, total - played)
        played += step
        out.append(event(session, start, played, step))
    out.append(event(session, start, played + 0.5, 0, kind="stop"))
    return out


def use_rules(state: App, rules: Royalties, clock: Clock) -> None:
    """The app's event intake under `rules` and the test's clock."""
    state.royalty_rules = rules
    directory = SessionDirectory(state.c.sessions, flush=lambda: state.recorder.flush())
    state.playback = Ingestor(state.c.sessions, rules, directory, clock=clock)


@pytest.fixture(scope="module")
def world(db: tuple[Engine, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One server for the module: a ready track with a worldwide stream right, a listener, another
    listener and an admin. Each test starts from no playback data (see `api`)."""
    engine = db[0]
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    settings = make_settings(
        tmp_path_factory.mktemp("playback") / "data",
        db[1],
        delivery={"geo_overrides": {"203.0.113.0/24": "DE", "198.51.100.0/24": "FR"}},
    )
    c = build_collaborators(settings, engine=engine, run_migrations=False)
    with transaction(c.sessions) as s:
        track = Track(title="Song", status=TrackStatus.ready, duration_sec=180.0, media_prefix="tracks/x/v1")
        s.add(track)
        s.flush()
        holder = rights.get_or_create_holder(s, name="Label")
        rights.grant(s, track_id=track.id, right_type="stream", holder_id=holder.id)
        track_id = track.id
    tokens = [
        create_user(c.sessions, email="fan@example.org"),
        create_user(c.sessions, email="other@example.org", tier="premium"),
        create_user(c.sessions, email="label@example.org", role="admin"),
    ]
    state = App(c=c, runner=IdleRunner())
    app = create_app(settings, wired=state)
    clock = Clock()
    use_rules(state, Royalties(), clock)
    with TestClient(app, client=("203.0.113.7", 50000)) as client:
        yield Api(client, app, state, engine, clock, track_id, *tokens)
    state.recorder.close()


@pytest.fixture
def api(world: Api) -> Iterator[Api]:
    yield world
    world.state.recorder.flush()
    with world.engine.begin() as conn:
        for model in (
            PlaybackEvent,
            PlaybackSession,
            PlaybackDaily,
            PlaybackDiscard,
            PlaybackDirtyDay,
            PlaybackDirtySession,
            PlaybackSessionCount,
        ):
            conn.execute(delete(model))
        conn.execute(update(Track).values(play_count=0))
    use_rules(world.state, Royalties(), world.clock)


def test_thirty_seconds_reached_is_a_stream(api: Api) -> None:
    for seconds in (29, 30, 31):
        sid, start = api.stream()
        result = api.post(listen(sid, start, seconds))
        assert not result["rejected"] and not result["duplicates"]
    api.refresh()
    assert api.counts() == (3, 2, 0)
    with api.state.c.sessions() as s:
        assert s.get(Track, api.track).play_count == 2  # (search ranking reads this)
    rows = api.rows()
    assert {(r.territory, r.quality, r.user_tier) for r in rows} == {("DE", "aac_256", "free")}
    assert sum(r.played_ms for r in rows) == 90_000


def test_seeks_and_pauses_count_heartbeats_not_positions(api: Api) -> None:
    sid, start = api.stream()
    api.post(
        [
            event(sid, start, 10, 10, position_ms=10_000),
            event(sid, start, 11, 1, kind="seek", position_ms=170_000),  # jump to 2:50: no time gained
            event(sid, start, 20, 9, position_ms=179_000),
            event(sid, start, 21, 0, kind="pause", position_ms=179_000),
            event(sid, start, 500, 0, kind="progress", position_ms=179_000),  # long pause, nothing played
            event(sid, start, 509, 9, kind="stop", position_ms=180_000),
        ]
    )
    api.refresh()
    assert api.counts() == (1, 0, 0)  # 29 s: not a stream, whatever the position says
    assert sum(r.played_ms for r in api.rows()) == 29_000


def test_duplicates_and_late_batches_change_nothing(api: Api) -> None:
    sid, start = api.stream()
    beats = listen(sid, start, 45)
    first, second = beats[:2], beats[2:]
    assert len(api.post(second)["accepted"]) == len(second)  # the later batch arrives first
    api.refresh()
    assert api.counts() == (1, 0, 0)  # 25 s so far
    again = api.post(second + first)
    assert sorted(again["duplicates"]) == sorted(e["id"] for e in second)
    assert sorted(again["accepted"]) == sorted(e["id"] for e in first)
    assert api.post(beats)["accepted"] == []
    api.refresh()
    assert api.counts() == (1, 1, 0)
    with api.state.c.sessions() as s:
        stored = s.scalars(select(PlaybackEvent.kind).where(PlaybackEvent.session_id == sid)).all()
    assert len(stored) == len(beats) + 1  # and the recorder's start event


def test_invalid_events_are_rejected_one_by_one(api: Api) -> None:
    sid, start = api.stream()
    theirs, their_start = api.stream(api.other)
    good = event(sid, start, 10, 10)
    batch = [
        good,
        event(sid, start, 20, -1),
        event("5b0a7e1a-0000-4000-8000-000000000000", start, 10, 10),
        event(sid, start, 60 * 60 * 5, 0),  # hours after the (server's) now
        event(sid, start, 30, 45),  # 45 s claimed 30 s into the session
        {**event(sid, start, 40, 10), "quality": "aac_64"},
        event(theirs, their_start, 10, 10),  # someone else's session
        {"id": "nope"},
        {**good},  # the same event twice in one batch
        event(sid, start, 41, 10, track_id=api.track + 1),
    ]
    result = api.post(batch)
    assert result["accepted"] == [good["id"]]
    assert result["duplicates"] == [good["id"]]
    reasons = {r["index"]: r["reason"] for r in result["rejected"]}
    assert sorted(reasons) == [1, 2, 3, 4, 5, 6, 7, 9]
    assert "negative" in reasons[1] and "unknown session" in reasons[2] and "future" in reasons[3]
    assert "more than the 30 s" in reasons[4] and "quality" in reasons[5] and "unknown session" in reasons[6]
    assert "UUID" in reasons[7] and "not the track" in reasons[9]
    assert [r["id"] for r in result["rejected"] if r["index"] == 1] == [batch[1]["id"]]


def test_whole_batch_errors(api: Api) -> None:
    post = api.client.post
    bad = post("/api/playback/events", content=b"{not json", headers=api.auth())
    assert bad.status_code == 422 and bad.json()["reason"] == "the body is not valid JSON"
    shape = post("/api/playback/events", json=[{"id": 1}], headers=api.auth())
    assert shape.status_code == 422 and "events" in shape.json()["reason"]
    many = post("/api/playback/events", json={"events": [{}] * 501}, headers=api.auth())
    assert many.status_code == 422 and "at most 500" in many.json()["reason"]
    huge = post("/api/playback/events", content=b" " * (playback.MAX_BODY + 1), headers=api.auth())
    assert huge.status_code == 413
    assert post("/api/playback/events", json={"events": []}).status_code == 401
    assert post("/api/playback/events", json={"events": []}, headers=api.auth()).json() == {
        "accepted": [],
        "duplicates": [],
        "rejected": [],
    }


def test_a_session_still_in_the_recorder_buffer_is_found(api: Api) -> None:
    api.state.recorder = SessionRecorder(api.state.c.sessions, interval=3600)  # never writes on its own
    resp = api.client.get(f"/api/tracks/{api.track}/stream", headers=api.auth())
    sid = resp.json()["session_id"]
    with api.state.c.sessions() as s:
        assert s.get(PlaybackSession, sid) is None
    result = api.post([event(sid, datetime.now(UTC), 5, 5)])
    assert len(result["accepted"]) == 1  # the endpoint flushed the recorder before giving up
    api.state.recorder.close()
    api.state.recorder = SessionRecorder(api.state.c.sessions)


def test_beacons_need_no_header_but_a_real_session(api: Api) -> None:
    sid, start = api.stream()
    payload = {"sent_at": api.clock.now.isoformat(), "events": listen(sid, start, 35)}
    resp = api.client.post(
        "/api/playback/beacon",
        content=json.dumps(payload).encode(),
        headers={"Content-Type": "text/plain;charset=UTF-8"},
    )
    assert resp.status_code == 200 and len(resp.json()["accepted"]) == len(payload["events"])
    forged = {"events": [event(str(uuid.uuid4()), start, 10, 10)]}
    resp = api.client.post(
        "/api/playback/beacon", content=json.dumps(forged), headers={"Content-Type": "text/plain"}
    )
    assert resp.status_code == 200 and "unknown session" in resp.json()["rejected"][0]["reason"]
    api.refresh()
    assert api.counts() == (1, 1, 0)


def test_daily_cap_and_admin_endpoints(api: Api) -> None:
    use_rules(api.state, Royalties(daily_cap_per_track=2), api.clock)
    for _ in range(3):
        sid, start = api.stream()
        api.post(listen(sid, start, 40))
    admin = api.auth(api.admin)
    assert (
        api.client.get(
            "/api/admin/playback/stats", params={"period": "2026-11"}, headers=api.auth()
        ).status_code
        == 403
    )
    done = api.client.post("/api/admin/playback/refresh", headers=admin)
    # the three new sessions are recounted one by one: no day is rebuilt whole
    assert done.status_code == 200 and (done.json()["days"], done.json()["sessions"]) == ([], 3)
    month = datetime.now(UTC).strftime("%Y-%m")
    stats = api.client.get("/api/admin/playback/stats", params={"period": month}, headers=admin).json()
    assert [(r["sessions"], r["streams"], r["discarded"], r["seconds"]) for r in stats] == [(3, 2, 1, 120.0)]
    params = {"period": month, "territory": "de", "pool": "100", "currency": "EUR", "format": "csv"}
    first = api.client.get("/api/admin/royalties/report", params=params, headers=admin)
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/csv")
    assert f'filename="royalties-{month}-DE-EUR.csv"' in first.headers["content-disposition"]
    lines = first.text.splitlines()
    assert lines[0].startswith("period,territory,currency,holder_id") and lines[1].endswith(
        ",2,1,1.00000000,100.00,100.00000000,100.00"
    )
    assert (
        api.client.get("/api/admin/royalties/report", params=params, headers=admin).content == first.content
    )
    as_json = api.client.get(
        "/api/admin/royalties/report", params={**params, "format": "json"}, headers=admin
    ).json()
    assert as_json["total_streams"] == 2 and as_json["discarded"][0]["discarded_streams"] == 1
    bad = api.client.get("/api/admin/royalties/report", params={**params, "pool": "1.001"}, headers=admin)
    assert bad.status_code == 422 and "decimal places" in bad.json()["reason"]
    with api.state.c.sessions() as s:
        assert s.scalar(select(PlaybackDirtyDay.id).limit(1)) is None
        assert s.scalar(select(PlaybackDirtySession.id).limit(1)) is None


def test_a_session_deleted_with_its_track_is_unknown_even_when_cached(api: Api) -> None:
    with transaction(api.state.c.sessions) as s:
        track = Track(
            title="Gone soon", status=TrackStatus.ready, duration_sec=120.0, media_prefix="tracks/g/v1"
        )
        s.add(track)
        s.flush()
        rights.grant(s, track_id=track.id, right_type="stream")
        gone = track.id
    resp = api.client.get(f"/api/tracks/{gone}/stream", headers=api.auth())
    sid = resp.json()["session_id"]
    api.state.recorder.flush()
    start = datetime.now(UTC)
    assert len(api.post([event(sid, start, 5, 5)])["accepted"]) == 1  # the session is now cached
    with transaction(api.state.c.sessions) as s:
        s.execute(delete(Track).where(Track.id == gone))  # sessions and events go with it
    result = api.post([event(sid, start, 10, 5)])
    assert result["accepted"] == [] and "unknown session" in result["rejected"][0]["reason"]
