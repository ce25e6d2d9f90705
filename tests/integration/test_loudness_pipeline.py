"""Loudness through the whole pipeline on both databases: measured in the transcode's decode, stored on
the track when it becomes ready, combined into the album figure of its release, and answered by the API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from audio import make_audio, transcode_file
from cadenza.bootstrap import App, build_collaborators
from cadenza.catalog.models import Release, Track, TrackStatus
from cadenza.catalog.service import TrackMetadata
from cadenza.ingest import pipeline
from cadenza.ingest.service import accept_upload
from cadenza.web.app import create_app
from conftest import IdleRunner, InlineRunner, create_user, make_settings
from unit.test_loudness import _decoded


@pytest.fixture
def c(engine: Engine, db: tuple[Engine, str], tmp_path: Path) -> pipeline.Collaborators:
    return build_collaborators(make_settings(tmp_path / "data", db[1]), engine=engine, run_migrations=False)


def _ingest(c: pipeline.Collaborators, path: Path, **meta: object) -> int:
    track = accept_upload(c, InlineRunner(c), path=path, filename=path.name, overrides=TrackMetadata(**meta))  # type: ignore[arg-type]
    return track.id


@pytest.fixture
def album(c: pipeline.Collaborators, tmp_path: Path) -> dict[str, object]:
    loud = make_audio(tmp_path / "loud.flac", duration=8, kind="music", seed=3)
    noise = make_audio(tmp_path / "noise.wav", duration=8, kind="noise", seed=4)
    quiet = transcode_file(noise, tmp_path / "quiet.flac", extra=["-af", "volume=-20dB"])
    first = _ingest(c, loud, title="Loud", artists=["Ana"], release_title="Levels")
    second = _ingest(c, quiet, title="Quiet", artists=["Ana"], release_title="Levels")
    return {"ids": (first, second), "files": (loud, quiet)}


def test_tracks_and_their_release_carry_r128_figures(c: pipeline.Collaborators, album: dict) -> None:
    first, second = album["ids"]
    meter = pyloudnorm.Meter(44_100)
    with c.sessions() as s:
        tracks = [s.get(Track, i) for i in (first, second)]
        for t, f in zip(tracks, album["files"], strict=True):
            assert t is not None and t.status == TrackStatus.ready, t and t.failure_reason
            reference = meter.integrated_loudness(_decoded(f, 2))
            assert t.loudness_lufs is not None and abs(t.loudness_lufs - reference) <= 0.1
            assert t.true_peak_dbtp is not None and t.true_peak_dbtp <= 0.5
            assert t.loudness_range_lu is not None and t.loudness_range_lu >= 0
        assert tracks[0].release_id == tracks[1].release_id
        release = s.get(Release, tracks[0].release_id)
        assert release is not None
        # ReplayGain 2.0's album: the gated loudness of all the release's audio. The quiet track sits
        # more than 10 LU under the loud one, so the relative gate leaves its blocks out: the album reads
        # as the loud track, not as the mean of the two. pyloudnorm on the concatenation agrees to 0.2 LU
        # (its blocks straddling the join, at most 3 of 160, are not in either track).
        loud, quiet = tracks
        assert loud.loudness_lufs - quiet.loudness_lufs > 10  # type: ignore[operator]
        assert release.loudness_lufs == pytest.approx(loud.loudness_lufs, abs=0.05)
        together = meter.integrated_loudness(np.concatenate([_decoded(f, 2) for f in album["files"]]))
        assert release.loudness_lufs is not None and abs(release.loudness_lufs - together) <= 0.2
        assert release.true_peak_dbtp == max(t.true_peak_dbtp for t in tracks)  # type: ignore[type-var]


@pytest.fixture
def client(c: pipeline.Collaborators, album: dict) -> Iterator[tuple[TestClient, str]]:
    token = create_user(c.sessions, email="fan@example.org")
    with TestClient(create_app(c.settings, wired=App(c=c, runner=IdleRunner()))) as tc:
        yield tc, token


def test_the_api_answers_loudness_and_replaygain(client: tuple[TestClient, str], album: dict) -> None:
    tc, token = client
    auth = {"Authorization": f"Bearer {token}"}
    track = tc.get(f"/api/tracks/{album['ids'][0]}", headers=auth).json()
    ld = track["loudness"]
    assert ld["replaygain_track_gain_db"] == pytest.approx(-18 - ld["integrated_lufs"], abs=0.01)
    assert ld["replaygain_track_peak"] == pytest.approx(10 ** (ld["true_peak_dbtp"] / 20), abs=1e-4)
    release = tc.get(f"/api/releases/{track['release_id']}", headers=auth).json()
    assert release["loudness"] == ld["album"]
    assert release["loudness"]["replaygain_album_gain_db"] == pytest.approx(
        -18 - release["loudness"]["integrated_lufs"], abs=0.01
    )
