"""The administrators' catalog routes (take down, reinstate, move, delete), both databases, on tracks
ingested for real: who may call them, refusals that change nothing, and what listeners see after each
change everywhere the catalog shows (lists, track pages, search and suggestions, stream grants,
playlists, OpenSubsonic), the album loudness, the store and the royalty history."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, insert, select

from audio import make_audio, transcode_file
from cadenza.accounts.models import User
from cadenza.bootstrap import App, build_collaborators
from cadenza.catalog.models import Release, Track, TrackStatus, TrackVariant
from cadenza.catalog.service import TrackMetadata
from cadenza.db.base import utcnow
from cadenza.db.engine import transaction
from cadenza.ingest import orphans
from cadenza.ingest.service import accept_upload
from cadenza.rights import service as rights
from cadenza.rights.models import TrackRight
from cadenza.royalties import service as royalties
from cadenza.royalties.models import PlaybackDirtyDay, PlaybackEvent, PlaybackSession
from cadenza.royalties.rules import Royalties
from cadenza.web.app import create_app
from conftest import IdleRunner, InlineRunner, create_user, make_settings
from library_world import add_track


@pytest.fixture
def world(engine: Engine, db: tuple[Engine, str], tmp_path: Path) -> Iterator[dict]:
    """ "Amber Tide" (loud) and "Harbour Quiet" (20 dB quieter) by Ana on the release "Levels", ingested,
    streamable everywhere; an administrator, a listener with a playlist holding both, and the listener's
    Subsonic API key."""
    c = build_collaborators(make_settings(tmp_path / "data", db[1]), engine=engine, run_migrations=False)
    loud = make_audio(tmp_path / "loud.flac", duration=4, kind="music", seed=5)
    quiet = transcode_file(
        make_audio(tmp_path / "n.wav", duration=4, kind="noise", seed=6),
        tmp_path / "quiet.flac",
        extra=["-af", "volume=-20dB"],
    )
    ids = {}
    for name, title, src in [("loud", "Amber Tide", loud), ("quiet", "Harbour Quiet", quiet)]:
        meta = TrackMetadata(title=title, artists=["Ana"], release_title="Levels")
        ids[name] = accept_upload(c, InlineRunner(c), path=src, filename=src.name, overrides=meta).id
    with transaction(c.sessions) as s:
        holder = rights.get_or_create_holder(s, name="Label")
        for tid in ids.values():
            rights.grant(s, track_id=tid, right_type="stream", territory=None, holder_id=holder.id)
        assert all(s.get(Track, t).status == TrackStatus.ready for t in ids.values())  # type: ignore[union-attr]
    state = App(c=c, runner=IdleRunner())
    admin = {"Authorization": f"Bearer {create_user(c.sessions, email='boss@example.org', role='admin')}"}
    fan = {"Authorization": f"Bearer {create_user(c.sessions, email='fan@example.org')}"}
    with TestClient(create_app(c.settings, wired=state)) as tc:
        playlist = tc.post("/api/playlists", json={"name": "Mix"}, headers=fan).json()["id"]
        added = tc.post(
            f"/api/playlists/{playlist}/tracks", json={"track_ids": list(ids.values())}, headers=fan
        )
        assert added.status_code == 201, added.text
        key = tc.post("/api/me/subsonic-keys", json={}, headers=fan).json()["api_key"]
        yield {
            "tc": tc,
            "c": c,
            "ids": ids,
            "admin": admin,
            "fan": fan,
            "playlist": playlist,
            "key": key,
            "tmp": tmp_path,
        }


def _release_loudness(world: dict, title: str) -> float | None:
    with world["c"].sessions() as s:
        return s.scalars(select(Release.loudness_lufs).where(Release.title == title)).one()


def _track_loudness(world: dict, track_id: int) -> float:
    with world["c"].sessions() as s:
        value = s.get(Track, track_id).loudness_lufs
        assert value is not None
        return value


def _listener_sees(world: dict, track_id: int) -> dict[str, bool]:
    """Where the listener finds the track: every surface, each asked separately."""
    tc, fan, key = world["tc"], world["fan"], world["key"]
    title = "Amber Tide" if track_id == world["ids"]["loud"] else "Harbour Quiet"
    word = title.split()[0].lower()
    entries = tc.get(f"/api/playlists/{world['playlist']}/tracks", headers=fan).json()["entries"]
    [entry] = [e for e in entries if e["track"] and e["track"]["id"] == track_id] or [None]
    song = tc.get("/rest/getSong", params={"id": f"tr-{track_id}", "apiKey": key, "f": "json"})
    found = tc.get("/rest/search3", params={"query": word, "apiKey": key, "f": "json"})
    return {
        "list": track_id in [t["id"] for t in tc.get("/api/tracks", headers=fan).json()],
        "page": tc.get(f"/api/tracks/{track_id}", headers=fan).status_code == 200,
        "search": track_id in [h["id"] for h in tc.get(f"/api/search?q={word}", headers=fan).json()["hits"]],
        "suggest": ("track", track_id)
        in [(x["kind"], x["id"]) for x in tc.get(f"/api/search/suggest?q={word[:4]}", headers=fan).json()],
        "stream": tc.get(f"/api/tracks/{track_id}/stream", headers=fan).status_code == 200,
        "playlist": bool(entry and entry["available"]),
        "subsonic": song.json()["subsonic-response"]["status"] == "ok",
        "subsonic search": track_id
        in [int(x["id"][3:]) for x in found.json()["subsonic-response"]["searchResult3"].get("song", [])],
    }


EVERYWHERE = dict.fromkeys(
    ["list", "page", "search", "suggest", "stream", "playlist", "subsonic", "subsonic search"], True
)
NOWHERE = dict.fromkeys(EVERYWHERE, False)


def test_the_routes_refuse_strangers_listeners_and_bad_input_and_change_nothing(world: dict) -> None:
    tc, admin, fan, loud = world["tc"], world["admin"], world["fan"], world["ids"]["loud"]
    before = _release_loudness(world, "Levels")
    calls = [
        ("POST", f"/api/tracks/{loud}/take-down", {"reason": "a claim"}),
        ("POST", f"/api/tracks/{loud}/reinstate", None),
        ("POST", f"/api/tracks/{loud}/move", {"release_title": "Elsewhere"}),
        ("DELETE", f"/api/tracks/{loud}", None),
    ]
    for method, path, body in calls:
        assert tc.request(method, path, json=body).status_code == 401
        refused = tc.request(method, path, json=body, headers=fan)
        assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
        unknown = tc.request(method, path.replace(str(loud), "999999"), json=body, headers=admin)
        assert unknown.status_code == 404 and "999999" in unknown.json()["reason"], unknown.text
        assert tc.request(method, path.replace(str(loud), "x"), json=body, headers=admin).status_code == 422

    def refusal(method: str, path: str, body: object, status: int, says: str) -> None:
        resp = tc.request(method, path, json=body, headers=admin)
        assert resp.status_code == status, (path, body, resp.text)
        assert says in resp.json()["reason"], resp.text

    take_down, move = f"/api/tracks/{loud}/take-down", f"/api/tracks/{loud}/move"
    refusal("POST", take_down, {}, 422, "reason")
    refusal("POST", take_down, {"reason": "   "}, 422, "reason is empty")
    refusal("POST", take_down, {"reason": "x\x00y"}, 422, "reason")
    refusal("POST", take_down, {"reason": "x" * 1001}, 422, "reason")
    refusal("POST", take_down, {"reason": "a claim", "extra": 1}, 422, "extra")
    refusal("POST", f"/api/tracks/{loud}/reinstate", None, 409, "not taken down")
    refusal("POST", move, {}, 422, "either release_id or release_title")
    refusal(
        "POST", move, {"release_id": 1, "release_title": "Both"}, 422, "either release_id or release_title"
    )
    refusal("POST", move, {"release_id": 1, "artist_id": 1}, 422, "artist_id goes with release_title")
    refusal("POST", move, {"release_id": 0}, 422, "release_id")
    refusal("POST", move, {"release_id": 2**63}, 422, "release_id")
    refusal("POST", move, {"release_id": 999_999}, 404, "release 999999 not found")
    refusal("POST", move, {"release_title": "New", "artist_id": 999_999}, 404, "artist 999999 not found")
    refusal("POST", move, {"release_title": ""}, 422, "release_title")
    with transaction(world["c"].sessions) as s:
        unfinished = add_track(s, title="Unfinished", status=TrackStatus.processing).id
    refusal("POST", f"/api/tracks/{unfinished}/take-down", {"reason": "claim"}, 409, "is processing")
    refusal("DELETE", f"/api/tracks/{unfinished}", None, 409, "still processing")

    assert _release_loudness(world, "Levels") == before
    with world["c"].sessions() as s:
        assert (
            s.scalar(select(func.count()).select_from(Release).where(Release.title.in_(["New", "Both"]))) == 0
        )
        assert s.get(Track, unfinished).status == TrackStatus.processing  # type: ignore[union-attr]
    assert _listener_sees(world, loud) == EVERYWHERE


def test_a_taken_down_track_is_gone_for_listeners_everywhere_until_reinstated(world: dict) -> None:
    tc, admin, fan = world["tc"], world["admin"], world["fan"]
    loud, quiet = world["ids"]["loud"], world["ids"]["quiet"]
    both = _release_loudness(world, "Levels")
    assert _listener_sees(world, loud) == EVERYWHERE

    down = tc.post(f"/api/tracks/{loud}/take-down", json={"reason": "a rights claim"}, headers=admin)
    assert down.status_code == 200, down.text
    assert down.json()["status"] == "taken_down" and down.json()["failure_reason"] == "a rights claim"
    assert _listener_sees(world, loud) == NOWHERE
    assert _listener_sees(world, quiet) == EVERYWHERE  # its album companion is untouched
    refused = tc.get(f"/api/tracks/{loud}/stream", headers=fan)
    assert refused.status_code == 404 and refused.json()["error"] == "not_found"
    entries = tc.get(f"/api/playlists/{world['playlist']}/tracks", headers=fan).json()["entries"]
    assert [(e["track"]["id"], e["available"]) for e in entries] == [(loud, False), (quiet, True)]
    assert (
        tc.get(f"/api/tracks/{loud}", headers=admin).json()["status"] == "taken_down"
    )  # admins still see it
    assert _release_loudness(world, "Levels") == pytest.approx(_track_loudness(world, quiet), abs=0.1)
    again = tc.post(f"/api/tracks/{loud}/take-down", json={"reason": "twice"}, headers=admin)
    assert again.status_code == 409 and "is taken_down" in again.json()["reason"]

    back = tc.post(f"/api/tracks/{loud}/reinstate", headers=admin)
    assert (
        back.status_code == 200 and back.json()["status"] == "ready" and back.json()["failure_reason"] is None
    )
    assert _listener_sees(world, loud) == EVERYWHERE
    assert _release_loudness(world, "Levels") == pytest.approx(both)


def test_moving_a_track_recomputes_both_albums_and_its_search_entry(world: dict) -> None:
    tc, admin, fan = world["tc"], world["admin"], world["fan"]
    loud, quiet = world["ids"]["loud"], world["ids"]["quiet"]
    levels = tc.get(f"/api/tracks/{loud}", headers=admin).json()["release_id"]

    moved = tc.post(f"/api/tracks/{loud}/move", json={"release_title": "Singles"}, headers=admin)
    assert moved.status_code == 200, moved.text
    singles = moved.json()["release_id"]
    assert singles not in (None, levels)
    assert moved.json()["loudness"]["album"]["integrated_lufs"] == pytest.approx(
        _track_loudness(world, loud), abs=0.1
    )
    assert _release_loudness(world, "Levels") == pytest.approx(_track_loudness(world, quiet), abs=0.1)
    release = tc.get(f"/api/releases/{singles}", headers=fan).json()
    assert release["artist"]["name"] == "Ana" and [t["id"] for t in release["tracks"]] == [loud]
    [hit] = [h for h in tc.get("/api/search?q=amber", headers=fan).json()["hits"] if h["id"] == loud]
    assert hit["release"] == "Singles"
    assert [h["id"] for h in tc.get("/api/search?q=singles&type=release", headers=fan).json()["hits"]] == [
        singles
    ]

    again = tc.post(f"/api/tracks/{loud}/move", json={"release_title": "Singles"}, headers=admin)
    assert (
        again.status_code == 200 and again.json()["release_id"] == singles
    )  # the same release, not a second

    home = tc.post(f"/api/tracks/{loud}/move", json={"release_id": levels}, headers=admin)
    assert home.status_code == 200 and home.json()["release_id"] == levels
    assert _release_loudness(world, "Singles") is None  # no track left on it
    assert tc.get(f"/api/releases/{singles}", headers=fan).status_code == 404
    assert tc.get("/api/search?q=singles&type=release", headers=fan).json()["hits"] == []
    [hit] = [h for h in tc.get("/api/search?q=amber", headers=fan).json()["hits"] if h["id"] == loud]
    assert hit["release"] == "Levels"
    with world["c"].sessions() as s:
        assert s.get(Release, levels).loudness_lufs > _track_loudness(world, quiet)  # type: ignore[union-attr]


def _royalty_lines(world: dict, period: str) -> list[tuple[str | None, str | None, str]]:
    request = royalties.ReportRequest.parse(period=period, territory="DE", pool="100", currency="EUR")
    report = royalties.make_report(world["c"].sessions, request=request, rules=Royalties())
    return [(line.holder_name, line.title, str(line.amount)) for line in report.lines]


def test_deleting_a_track_removes_its_media_and_keeps_its_history(world: dict) -> None:
    tc, admin, fan, c = world["tc"], world["admin"], world["fan"], world["c"]
    loud, quiet = world["ids"]["loud"], world["ids"]["quiet"]
    # A long catalogue track with a counted stream in DE this month, to check the royalty statement.
    started = utcnow() - timedelta(minutes=5)
    with transaction(c.sessions) as s:
        long_play = add_track(s, title="Long Play", duration=200.0).id
        fan_id = s.scalars(select(User.id).where(User.email == "fan@example.org")).one()
        sid = str(uuid.uuid4())
        s.execute(
            insert(PlaybackSession),
            [dict(id=sid, user_id=fan_id, track_id=long_play, territory="DE", started_at=started,
                  day=started.date(), user_tier="free", quality="hls")],
        )  # fmt: skip
        s.execute(
            insert(PlaybackEvent),
            [dict(event_id=str(uuid.uuid4()), session_id=sid, track_id=long_play, kind="progress",
                  seconds_played=40, quality="aac_256", territory="DE",
                  occurred_at=started + timedelta(seconds=40), received_at=started,
                  session_day=started.date(), elapsed_ms=40_000, played_ms=40_000)],
        )  # fmt: skip
        s.add(PlaybackDirtyDay(day=started.date()))  # as the event intake marks what the rollups must see
    period = started.strftime("%Y-%m")
    statement = _royalty_lines(world, period)
    assert statement == [("Label", "Long Play", "100.00")]
    store = c.store
    loud_keys = store.list(f"tracks/{loud}") + store.list(f"uploads/{loud}")
    quiet_keys = store.list(f"tracks/{quiet}") + store.list(f"uploads/{quiet}")
    assert any(k.endswith("master.m3u8") for k in loud_keys) and any(
        k.startswith("uploads/") for k in loud_keys
    )

    for track_id in (loud, long_play):
        resp = tc.delete(f"/api/tracks/{track_id}", headers=admin)
        assert resp.status_code == 204, resp.text

    # The media are gone from the store; the other track's are all there.
    assert store.list(f"tracks/{loud}") == [] and store.list(f"uploads/{loud}") == []
    assert store.list(f"tracks/{quiet}") + store.list(f"uploads/{quiet}") == quiet_keys
    # Gone for everyone, administrators included; the album is the quiet track alone.
    assert _listener_sees(world, loud) == NOWHERE
    assert tc.get(f"/api/tracks/{loud}", headers=admin).status_code == 404
    assert loud not in [t["id"] for t in tc.get("/api/tracks", headers=admin).json()]
    assert _release_loudness(world, "Levels") == pytest.approx(_track_loudness(world, quiet), abs=0.1)
    for path, body in [
        ("take-down", {"reason": "late"}),
        ("reinstate", None),
        ("move", {"release_title": "X"}),
    ]:
        assert tc.post(f"/api/tracks/{loud}/{path}", json=body, headers=admin).status_code == 404
    # The playlist keeps its entry, unavailable; its totals do not move.
    page = tc.get(f"/api/playlists/{world['playlist']}/tracks", headers=fan).json()
    assert page["playlist"]["track_count"] == 2
    assert [(e["track"]["id"], e["available"]) for e in page["entries"]] == [(loud, False), (quiet, True)]
    # The history stays: the row (as a tombstone), its sessions and events, its rights ended now, so the
    # month's statement still pays the holder for the stream before the deletion.
    with c.sessions() as s:
        row = s.get(Track, long_play)
        assert row is not None and row.status == TrackStatus.deleted and row.title == "Long Play"
        assert s.get(PlaybackSession, sid) is not None
        assert (
            s.scalar(select(func.count()).select_from(PlaybackEvent).where(PlaybackEvent.session_id == sid))
            == 1
        )
        ended = s.scalars(
            select(TrackRight.expires_at).where(TrackRight.track_id.in_([loud, long_play]))
        ).all()
        assert len(ended) == 2 and all(e is not None and e <= utcnow() for e in ended)
        assert (
            s.scalar(select(func.count()).select_from(TrackVariant).where(TrackVariant.track_id == loud)) == 0
        )
        gone = s.get(Track, loud)
        assert gone is not None and gone.media_prefix is None and gone.source_key is None
    assert _royalty_lines(world, period) == statement

    # A clean-up cut short (an object left behind) is finished by deleting again, or by the gc.
    leftover = f"tracks/{loud}/v-old/hls/master.m3u8"
    store.put_bytes(leftover, b"#EXTM3U\n")
    assert tc.delete(f"/api/tracks/{loud}", headers=admin).status_code == 204
    assert store.list(f"tracks/{loud}") == []
    store.put_bytes(leftover, b"#EXTM3U\n")
    report = orphans.collect(store, c.sessions, apply=True, grace_sec=0)
    assert leftover in report.orphan_keys and store.list(f"tracks/{loud}") == []
    assert store.list(f"tracks/{quiet}") + store.list(f"uploads/{quiet}") == quiet_keys
