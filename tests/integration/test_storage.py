"""The object-store contract, on a local directory and on an S3-compatible server (moto's, over HTTP);
then a track ingested into S3 and streamed back out of it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer
from sqlalchemy import Engine

from audio import make_audio
from cadenza.bootstrap import App, build_collaborators, make_store
from cadenza.catalog.models import TrackStatus
from cadenza.db.engine import transaction
from cadenza.errors import InvalidInput
from cadenza.ingest.service import accept_upload
from cadenza.rights import service as rights
from cadenza.storage.base import ObjectStore
from cadenza.storage.local import LocalStore
from cadenza.web.app import create_app
from conftest import InlineRunner, create_user, make_settings
from livesrv import free_port, serve


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
                 aws_secret_access_key="test").create_bucket(Bucket="cadenza-media")  # fmt: skip
    yield url
    server.stop()


def _s3_settings(endpoint: str, prefix: str) -> dict:
    return {
        "backend": "s3",
        "s3_bucket": "cadenza-media",
        "s3_endpoint_url": endpoint,
        "s3_access_key_id": "test",
        "s3_secret_access_key": "test",
        "s3_prefix": prefix,
    }


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path, s3_endpoint: str) -> ObjectStore:
    if request.param == "local":
        return LocalStore(tmp_path / "media")
    settings = make_settings(tmp_path, "sqlite://", storage=_s3_settings(s3_endpoint, tmp_path.name))
    return make_store(settings)


def test_store_contract(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "blob.bin"
    src.write_bytes(bytes(range(256)) * 40)
    store.put_file("tracks/1/v/a.m4s", src, content_type="audio/mp4")
    store.put_bytes("tracks/1/v/hls/master.m3u8", b"#EXTM3U\n")
    store.put_bytes("tracks/2/v/other.json", b"{}")
    assert store.exists("tracks/1/v/a.m4s") and not store.exists("tracks/1/v/missing")
    assert store.size("tracks/1/v/a.m4s") == 10240
    st = store.stat("tracks/1/v/a.m4s")
    assert st.size == 10240 and st.etag.startswith('"')
    assert b"".join(store.read_range("tracks/1/v/a.m4s", 100, 355)) == src.read_bytes()[100:356]
    with store.fetch("tracks/1/v/hls/master.m3u8") as path:
        assert path.read_bytes() == b"#EXTM3U\n"
    assert store.list("tracks/1") == ["tracks/1/v/a.m4s", "tracks/1/v/hls/master.m3u8"]
    scanned = dict(store.scan())  # the whole store, sizes and times from the listing itself
    assert {k: v.size for k, v in scanned.items()} == {
        "tracks/1/v/a.m4s": 10240,
        "tracks/1/v/hls/master.m3u8": 8,
        "tracks/2/v/other.json": 2,
    }
    assert scanned["tracks/1/v/a.m4s"].mtime == pytest.approx(st.mtime, abs=1)
    assert sorted(k for k, _ in store.scan("tracks/2")) == ["tracks/2/v/other.json"]
    assert list(store.scan("nothing-here")) == []
    assert store.delete_prefix("tracks/1") == 2
    assert store.list("tracks/1") == [] and store.exists("tracks/2/v/other.json")
    with pytest.raises(FileNotFoundError):
        store.stat("tracks/1/v/a.m4s")
    for bad in ("../etc/passwd", "/abs", "a//b", "a/./b", "", "a\\b"):
        with pytest.raises(InvalidInput):
            store.put_bytes(bad, b"x")


def test_ingest_into_s3_and_stream_out_of_it(
    engine: Engine, db: tuple[Engine, str], tmp_path: Path, s3_endpoint: str
) -> None:
    settings = make_settings(
        tmp_path / "data", db[1], storage=_s3_settings(s3_endpoint, f"it-{tmp_path.name}")
    )
    c = build_collaborators(settings, engine=engine, run_migrations=False)
    source = make_audio(tmp_path / "song.flac", duration=8, seed=91)
    track = accept_upload(c, InlineRunner(c), path=source, filename="song.flac")
    with c.sessions() as s:
        t = s.get(type(track), track.id)
        assert t is not None and t.status == TrackStatus.ready, t.failure_reason
        prefix = t.media_prefix
    keys = c.store.list(f"tracks/{track.id}")
    assert f"{prefix}/hls/master.m3u8" in keys and f"{prefix}/download/mp3_320.mp3" in keys
    with transaction(c.sessions) as s:
        rights.grant(s, track_id=track.id, right_type="stream")
        rights.grant(s, track_id=track.id, right_type="download")
    token = create_user(c.sessions, email="s3fan@example.org")
    with serve(create_app(settings, wired=App(c=c, runner=InlineRunner(c)))) as url:
        grant = httpx.get(
            f"{url}/api/tracks/{track.id}/stream", headers={"Authorization": f"Bearer {token}"}
        ).json()
        mp3 = httpx.get(url + grant["mp3_url"])
        assert mp3.status_code == 200 and mp3.content[:3] in (b"ID3", b"\xff\xfb")
        part = httpx.get(url + grant["mp3_url"], headers={"Range": "bytes=10-19"})
        assert part.status_code == 206 and part.content == mp3.content[10:20]
        master = httpx.get(url + grant["hls_url"])
        assert master.status_code == 200 and "#EXT-X-STREAM-INF" in master.text


def test_local_store_links_only_disposable_files(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "media")
    mine = tmp_path / "my-song.flac"
    mine.write_bytes(b"original")
    store.put_file("uploads/1/a.flac", mine)
    scratch = tmp_path / "scratch.m4s"
    scratch.write_bytes(b"segment")
    store.put_file("tracks/1/v/a.m4s", scratch, disposable=True)
    assert (tmp_path / "media/tracks/1/v/a.m4s").stat().st_ino == scratch.stat().st_ino
    # a user's own file is copied: editing it later must not change what was imported
    assert (tmp_path / "media/uploads/1/a.flac").stat().st_ino != mine.stat().st_ino
    mine.write_bytes(b"edited")
    assert (tmp_path / "media/uploads/1/a.flac").read_bytes() == b"original"
