"""Covers embedded in uploads, through the whole ingest pipeline on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from audio import make_audio
from cadenza.bootstrap import build_collaborators
from cadenza.catalog import artwork
from cadenza.catalog.models import Artwork, Release, Track, TrackStatus
from cadenza.catalog.service import TrackMetadata
from cadenza.ingest import pipeline
from cadenza.ingest.service import accept_upload
from conftest import InlineRunner, make_settings
from images import embed_cover, picture


@pytest.fixture
def c(engine: Engine, db: tuple[Engine, str], tmp_path: Path) -> pipeline.Collaborators:
    return build_collaborators(make_settings(tmp_path / "data", db[1]), engine=engine, run_migrations=False)


def _ingest(c: pipeline.Collaborators, path: Path, **meta: object) -> Track:
    created = accept_upload(
        c,
        InlineRunner(c),
        path=path,
        filename=path.name,
        overrides=TrackMetadata(**meta),  # type: ignore[arg-type]
    )
    with c.sessions() as s:
        return s.get_one(Track, created.id)


def _release_artwork(c: pipeline.Collaborators, track: Track) -> int | None:
    with c.sessions() as s:
        return s.get_one(Release, track.release_id).artwork_id if track.release_id else None


@pytest.mark.parametrize(("suffix", "fmt"), [(".flac", "PNG"), (".mp3", "JPEG"), (".m4a", "PNG")])
def test_the_embedded_cover_becomes_the_tracks_and_its_releases(
    c: pipeline.Collaborators, tmp_path: Path, suffix: str, fmt: str
) -> None:
    cover = picture(700, 700, fmt)
    source = make_audio(tmp_path / f"song{suffix}", duration=3, seed=3)
    if suffix == ".mp3":
        embed_cover(source, picture(50, 50, "PNG"), kind=4)  # a back cover first: the front one wins
    embed_cover(source, cover)
    track = _ingest(c, source, title="Song", release_title="First Light", artists=["Ana"])
    assert track.status == TrackStatus.ready, track.failure_reason
    assert track.artwork_id is not None and track.artwork_problem is None
    assert _release_artwork(c, track) == track.artwork_id
    with c.sessions() as s:
        art = s.get_one(Artwork, track.artwork_id)
        assert art.sha256 == artwork.content_hash(cover) and (art.width, art.height) == (700, 700)
        ref = artwork.for_track(s, track_id=track.id)
    assert ref is not None and list(ref.urls) == ["64", "300", "600"]
    assert c.store.exists(artwork.object_key(art.sha256, "600.webp"))


def test_an_album_keeps_its_first_cover_and_shares_identical_ones(
    c: pipeline.Collaborators, tmp_path: Path
) -> None:
    album = {"release_title": "Album", "artists": ["Bo"]}
    cover, other = picture(320, 320, "JPEG"), picture(330, 320, "JPEG")
    first = _ingest(c, embed_cover(make_audio(tmp_path / "1.flac", duration=3, seed=1), cover), **album)
    second = _ingest(c, embed_cover(make_audio(tmp_path / "2.flac", duration=3, seed=2), cover), **album)
    third = _ingest(c, embed_cover(make_audio(tmp_path / "3.flac", duration=3, seed=3), other), **album)
    bare = _ingest(c, make_audio(tmp_path / "4.flac", duration=3, seed=4), **album)
    assert first.release_id == second.release_id == third.release_id == bare.release_id
    assert first.artwork_id == second.artwork_id != third.artwork_id
    assert bare.artwork_id is None and bare.artwork_problem is None
    assert _release_artwork(c, third) == first.artwork_id  # the release already had one
    with c.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Artwork)) == 2
        refs = artwork.for_tracks(s, track_ids=[first.id, third.id, bare.id])
    assert refs[third.id].id == third.artwork_id
    assert refs[bare.id].id == first.artwork_id  # a track without its own shows its release's


@pytest.mark.parametrize(
    ("suffix", "bad", "reason"),
    [
        # ffmpeg itself decodes a cover while opening the file: its complaints must not refuse the audio
        (".mp3", picture(400, 400, "PNG")[:-50], "corrupt or truncated"),
        (".mp3", picture(400, 400, "JPEG")[:-300], "corrupt or truncated"),
        (".flac", picture(400, 400, "PNG")[:-50], "corrupt or truncated"),
        (".m4a", picture(400, 400, "JPEG")[:-300], "corrupt or truncated"),
        (".mp3", b"<html>not a picture</html>", "not an image in an accepted format"),
        (".flac", picture(40, 40, "TIFF"), "not an image in an accepted format"),
    ],
)
def test_a_bad_embedded_picture_never_fails_the_track(
    c: pipeline.Collaborators, tmp_path: Path, suffix: str, bad: bytes, reason: str
) -> None:
    source = embed_cover(make_audio(tmp_path / f"song{suffix}", duration=3, seed=6), bad)
    track = _ingest(c, source, release_title="Broken Art")
    assert track.status == TrackStatus.ready, track.failure_reason
    with c.sessions() as s:
        assert {v.quality for v in s.get_one(Track, track.id).variants} >= {"aac_128", "mp3_320"}
    assert track.artwork_id is None
    assert track.artwork_problem and reason in track.artwork_problem
    assert _release_artwork(c, track) is None
    assert c.store.list("artwork") == []
