"""The MP3 download with ReplayGain tags (`?replaygain=true`), both databases: the tags read back with
mutagen and ffprobe, the audio decodes with ffmpeg to the very samples of the plain download (no
re-encode), Range works on it, and the album figure is the release's current one."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from mutagen.id3 import ID3
from sqlalchemy import Engine, update

from audio import make_audio, transcode_file
from cadenza.bootstrap import App, build_collaborators
from cadenza.catalog import service as catalog
from cadenza.catalog.loudness import replaygain_gain, replaygain_peak
from cadenza.catalog.models import Release, Track
from cadenza.catalog.service import TrackMetadata
from cadenza.db.engine import transaction
from cadenza.ingest.service import accept_upload
from cadenza.rights import service as rights
from cadenza.web.app import create_app
from conftest import IdleRunner, InlineRunner, create_user, make_settings


@pytest.fixture
def world(engine: Engine, db: tuple[Engine, str], tmp_path: Path) -> Iterator[dict]:
    """Two ingested tracks on one release, a loud one and one 20 dB quieter, downloadable everywhere."""
    c = build_collaborators(make_settings(tmp_path / "data", db[1]), engine=engine, run_migrations=False)
    loud_src = make_audio(tmp_path / "loud.flac", duration=6, kind="music", seed=5)
    quiet_src = transcode_file(
        make_audio(tmp_path / "n.wav", duration=6, kind="noise", seed=6),
        tmp_path / "quiet.flac",
        extra=["-af", "volume=-20dB"],
    )
    ids = {}
    for name, src in [("loud", loud_src), ("quiet", quiet_src)]:
        meta = TrackMetadata(title=name, artists=["Ana"], release_title="Levels")
        ids[name] = accept_upload(c, InlineRunner(c), path=src, filename=src.name, overrides=meta).id
    with transaction(c.sessions) as s:
        holder = rights.get_or_create_holder(s, name="Label")
        for tid in ids.values():
            for kind in ("stream", "download"):
                rights.grant(s, track_id=tid, right_type=kind, territory=None, holder_id=holder.id)
    state = App(c=c, runner=IdleRunner())
    token = create_user(c.sessions, email="fan@example.org")
    with TestClient(create_app(c.settings, wired=state)) as tc:
        tc.headers["Authorization"] = f"Bearer {token}"
        yield {"tc": tc, "c": c, "state": state, "ids": ids, "tmp": tmp_path}


def _download(world: dict, track_id: int, query: str = "") -> tuple[str, bytes]:
    tc: TestClient = world["tc"]
    resp = tc.get(f"/api/tracks/{track_id}/download{query}", follow_redirects=False)
    assert resp.status_code == 307, resp.text
    location = resp.headers["location"]
    got = tc.get(location)
    assert got.status_code == 200 and got.headers["content-type"] == "audio/mpeg"
    return location, got.content


def _expected(world: dict, track_id: int) -> dict[str, str]:
    with world["c"].sessions() as s:
        t = s.get(Track, track_id)
        r = s.get(Release, t.release_id) if t and t.release_id else None
        assert t is not None
        out = {
            "REPLAYGAIN_TRACK_GAIN": f"{replaygain_gain(t.loudness_lufs):.2f} dB",
            "REPLAYGAIN_TRACK_PEAK": f"{replaygain_peak(t.true_peak_dbtp):.6f}",
        }
        if r is not None and r.loudness_lufs is not None:
            out["REPLAYGAIN_ALBUM_GAIN"] = f"{replaygain_gain(r.loudness_lufs):.2f} dB"
            out["REPLAYGAIN_ALBUM_PEAK"] = f"{replaygain_peak(r.true_peak_dbtp):.6f}"
        return out


def _tags(path: Path) -> dict[str, str]:
    return {f.desc: f.text[0] for f in ID3(path).getall("TXXX") if f.desc.startswith("REPLAYGAIN_")}


def _pcm(path: Path) -> bytes:
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-xerror", "-i", str(path), "-f", "s16le", "-"],
        check=True,
        capture_output=True,
    ).stdout


def test_the_tagged_mp3_carries_replaygain_and_the_same_audio(world: dict) -> None:
    tmp, loud = world["tmp"], world["ids"]["loud"]
    _, plain = _download(world, loud)
    location, tagged = _download(world, loud, "?replaygain=true")
    (tmp / "plain.mp3").write_bytes(plain)
    (tmp / "tagged.mp3").write_bytes(tagged)
    expected = _expected(world, loud)
    assert set(expected) == {
        "REPLAYGAIN_TRACK_GAIN",
        "REPLAYGAIN_TRACK_PEAK",
        "REPLAYGAIN_ALBUM_GAIN",
        "REPLAYGAIN_ALBUM_PEAK",
    }
    assert _tags(tmp / "tagged.mp3") == expected
    assert _tags(tmp / "plain.mp3") == {}
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format_tags", "-of", "json", str(tmp / "tagged.mp3")],
        check=True,
        capture_output=True,
        text=True,
    )
    read = {k.upper(): v for k, v in json.loads(probe.stdout)["format"]["tags"].items()}
    assert {k: read.get(k) for k in expected} == expected
    assert _pcm(tmp / "tagged.mp3") == _pcm(tmp / "plain.mp3")  # not re-encoded: the same samples

    tc: TestClient = world["tc"]
    size = len(tagged)
    part = tc.get(location, headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == tagged[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{size}"
    again, same = _download(world, loud, "?replaygain=true")
    assert same == tagged and again.split("/", 3)[3] == location.split("/", 3)[3]  # written once, same key


def test_the_album_figure_is_the_releases_current_one(world: dict) -> None:
    tmp, ids = world["tmp"], world["ids"]
    _, before = _download(world, ids["quiet"], "?replaygain=true")
    (tmp / "before.mp3").write_bytes(before)
    with_loud = _tags(tmp / "before.mp3")
    assert with_loud["REPLAYGAIN_ALBUM_GAIN"] != with_loud["REPLAYGAIN_TRACK_GAIN"]  # the loud one leads
    with transaction(world["c"].sessions) as s:
        catalog.take_down(s, track_id=ids["loud"], reason="a claim", caches=world["state"].track_media)
    _, after = _download(world, ids["quiet"], "?replaygain=true")
    (tmp / "after.mp3").write_bytes(after)
    alone = _tags(tmp / "after.mp3")
    assert alone == _expected(world, ids["quiet"])
    assert alone["REPLAYGAIN_ALBUM_GAIN"] == alone["REPLAYGAIN_TRACK_GAIN"]  # the only track left
    with transaction(world["c"].sessions) as s:
        catalog.move_track(s, track_id=ids["quiet"], release_id=None)
    _, single = _download(world, ids["quiet"], "?replaygain=true")
    (tmp / "single.mp3").write_bytes(single)
    assert set(_tags(tmp / "single.mp3")) == {"REPLAYGAIN_TRACK_GAIN", "REPLAYGAIN_TRACK_PEAK"}


def test_replaygain_is_refused_with_a_reason_where_it_cannot_be_written(world: dict) -> None:
    tc: TestClient = world["tc"]
    loud = world["ids"]["loud"]
    flac = tc.get(f"/api/tracks/{loud}/download?quality=flac&replaygain=true", follow_redirects=False)
    assert flac.status_code == 403  # FLAC needs the hi-fi tier before anything else
    with transaction(world["c"].sessions) as s:
        s.execute(update(Track).where(Track.id == loud).values(loudness_lufs=None))
    unmeasured = tc.get(f"/api/tracks/{loud}/download?replaygain=true", follow_redirects=False)
    assert unmeasured.status_code == 422 and "no loudness measurement" in unmeasured.text
    assert tc.get(f"/api/tracks/{loud}/download?replaygain=maybe").status_code == 422
    _download(world, loud)  # the plain download still works
