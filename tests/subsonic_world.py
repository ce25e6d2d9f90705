"""The Subsonic test world: a live server on loopback with an album of two ready tracks, a listener
with Subsonic credentials and a second listener (for tests/integration/test_subsonic_*.py); and the
helpers that read its answers in XML and JSON in one canonical form."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date

import httpx
import pytest
from libopensonic import Connection
from sqlalchemy import Engine

from audio import make_audio
from cadenza.bootstrap import App, build_collaborators
from cadenza.catalog import artwork
from cadenza.catalog.models import Track
from cadenza.catalog.service import TrackMetadata
from cadenza.db.engine import transaction
from cadenza.ingest.service import accept_upload
from cadenza.rights import service as rights
from conftest import InlineRunner, create_user, make_settings
from images import picture
from livesrv import serve

NS = "{http://subsonic.org/restapi}"


def _grant(c, track_id: int, *kinds: str, territory: str | None = None) -> None:  # type: ignore[no-untyped-def]
    with transaction(c.sessions) as s:
        holder = rights.get_or_create_holder(s, name="Label")
        for kind in kinds:
            rights.grant(
                s,
                track_id=track_id,
                right_type=kind,
                territory=territory,
                holder_id=holder.id,
                expires_at=None,
            )


@pytest.fixture(scope="module", name="world")
def world_fixture(db: tuple[Engine, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A running server with an album of two ready tracks (one streamable and downloadable, one with no
    rights), a listener with Subsonic credentials, and a second listener."""
    tmp = tmp_path_factory.mktemp("subsonic")
    settings = make_settings(tmp / "data", db[1], delivery={"geo_overrides": {"127.0.0.1/32": "DE"}})
    c = build_collaborators(settings, engine=db[0], run_migrations=False)
    made = []
    for n, title in enumerate(["Morning Song", "Evening Waltz"], start=1):
        meta = TrackMetadata(
            title=title, artists=["Ada Lovelace"], release_title="Engines", release_date=date(2024, 5, 1),
            genre="Ambient", track_number=n,
        )  # fmt: skip
        source = make_audio(tmp / f"{n}.flac", duration=6, seed=80 + n)
        made.append(accept_upload(c, InlineRunner(c), path=source, filename=f"{n}.flac", overrides=meta).id)
    _grant(c, made[0], "stream", "download")
    _grant(c, made[1], "stream", territory="FR")  # the listeners are in DE (127.0.0.1)
    with c.sessions() as s:
        release_id = s.get(Track, made[0]).release_id
    artwork.upload_release_artwork(c.sessions, store=c.store, release_id=release_id, data=picture(700, 700))
    fan = create_user(c.sessions, email="fan@example.org")
    other = create_user(c.sessions, email="other@example.org")
    state = App(c=c, runner=InlineRunner(c))
    from cadenza.web.app import create_app

    app = create_app(settings, wired=state)
    with serve(app) as url:
        keys = httpx.post(
            f"{url}/api/me/subsonic-keys", headers={"Authorization": f"Bearer {fan}"}, json={"label": "phone"}
        )
        assert keys.status_code == 201, keys.text
        yield {
            "url": url,
            "app": app,
            "c": c,
            "tracks": made,
            "fan": fan,
            "other": other,
            "keys": keys.json(),
        }


@pytest.fixture(name="by_key")
def by_key_fixture(world: dict) -> Iterator[Connection]:
    conn = client(world, api_key=world["keys"]["api_key"])
    yield conn
    conn.cleanup()


def client(world: dict, **auth: str) -> Connection:
    host, port = world["url"].rsplit(":", 1)
    return Connection(host, port=int(port), app_name="tests", **auth)


def raw(world: dict, method: str, *, post: bool = False, **params: str) -> httpx.Response:
    params = {"apiKey": world["keys"]["api_key"], **params}
    url = f"{world['url']}/rest/{method}"
    resp = httpx.post(url, data=params) if post else httpx.get(url, params=params)
    assert resp.status_code == 200, resp.text
    return resp


def as_json(world: dict, method: str, **params: str) -> dict:
    return raw(world, method, f="json", **params).json()["subsonic-response"]


def from_xml(element: ET.Element) -> dict:
    """An XML element in the canonical form below: attributes as text, each child name → list."""
    out: dict = dict(element.attrib)
    if element.text and element.text.strip():
        out["value"] = element.text
    for child in element:
        out.setdefault(child.tag.removeprefix(NS), []).append(from_xml(child))
    return out


def from_json(value: object) -> object:
    """A JSON value in the same form: scalars as XML writes them, an object or a list of them → list."""
    if isinstance(value, dict):
        return {  # an empty list has no XML form: it is left out of both
            k: from_json(v) if not isinstance(v, dict | list) else _children(v)
            for k, v in value.items()
            if v != []
        }
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _children(value: dict | list) -> list:
    items = value if isinstance(value, list) else [value]
    return [from_json(i) if isinstance(i, dict) else {"value": str(i)} for i in items]
