"""CMAF packaging shared by HLS and DASH: one set of segments, two manifests, both served signed.

Checked as outside clients see it: boxes read with pymp4, the MPD parsed with mpegdash, the stream
decoded by ffmpeg over HTTP."""

from __future__ import annotations

import posixpath
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import m3u8
import pytest
from mpegdash.parser import MPEGDASHParser
from pymp4.parser import Box
from sqlalchemy import Engine

from audio import make_audio
from cadenza.bootstrap import App, build_collaborators
from cadenza.catalog.models import Track
from cadenza.db.engine import transaction
from cadenza.ingest.service import accept_upload
from cadenza.rights import service as rights
from cadenza.web.app import create_app
from conftest import InlineRunner, create_user, make_settings
from livesrv import serve

DURATION = 20


@pytest.fixture(scope="module")
def world(db: tuple[Engine, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A server with a ready lossless track (hi-fi renditions) and a lossy one, a listener and a hi-fi
    listener, both tracks streamable worldwide."""
    tmp = tmp_path_factory.mktemp("dash")
    settings = make_settings(tmp / "data", db[1], delivery={"trusted_proxies": ["127.0.0.1/32"]})
    c = build_collaborators(settings, engine=db[0], run_migrations=False)
    lossless = accept_upload(
        c,
        InlineRunner(c),
        path=make_audio(tmp / "song.flac", duration=DURATION, seed=81),
        filename="song.flac",
    )
    lossy_src = make_audio(
        tmp / "lossy.mp3", duration=8, seed=82, extra=["-c:a", "libmp3lame", "-b:a", "192k"]
    )
    lossy = accept_upload(c, InlineRunner(c), path=lossy_src, filename="lossy.mp3")
    with transaction(c.sessions) as s:
        for t in (lossless, lossy):
            rights.grant(s, track_id=t.id, right_type="stream")
    with c.sessions() as s:
        prefix = s.get_one(Track, lossless.id).media_prefix
    fan = create_user(c.sessions, email="fan@example.org")
    hifi = create_user(c.sessions, email="audiophile@example.org", tier="hifi")
    with serve(create_app(settings, wired=App(c=c, runner=InlineRunner(c)))) as url:
        yield {
            "url": url,
            "root": settings.storage.local_root,
            "prefix": prefix,
            "track": lossless.id,
            "lossy": lossy.id,
            "fan": fan,
            "hifi": hifi,
        }


def _grant(world: dict, token: str, track: int | None = None) -> dict:
    r = httpx.get(
        f"{world['url']}/api/tracks/{track or world['track']}/stream",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text
    return r.json()


def _boxes(path: Path) -> list:
    data = path.read_bytes()
    out, offset = [], 0
    while offset < len(data):
        box = Box.parse(data[offset:])
        size = int.from_bytes(data[offset : offset + 4], "big")
        out.append(box)
        offset += size
    return out


def _tfdt(segment: Path) -> int:
    moof = next(b for b in _boxes(segment) if b.type == b"moof")
    traf = next(b for b in moof.children if b.type == b"traf")
    return int(next(b for b in traf.children if b.type == b"tfdt").baseMediaDecodeTime)


def _mpd(path: Path):  # type: ignore[no-untyped-def]
    return MPEGDASHParser.parse(str(path))


def _segment_refs(mpd_path: Path, root: Path) -> dict[str, list[str]]:
    """Representation id → storage-relative paths of its init and media segments."""
    base = mpd_path.parent
    out = {}
    for rep in _mpd(mpd_path).periods[0].adaptation_sets[0].representations:
        sl = rep.segment_lists[0]
        urls = [sl.initializations[0].source_url, *(u.media for u in sl.segment_urls)]
        out[rep.id] = [(base / u).resolve().relative_to(root.resolve()).as_posix() for u in urls]
    return out


def test_the_aac_renditions_are_cmaf_tracks_cut_at_the_same_times(world: dict) -> None:
    version = world["root"] / world["prefix"]
    tfdts = {}
    for name in ("aac_128", "aac_256", "aac_320"):
        playlist = m3u8.load(str(version / "hls" / name / "index.m3u8"))
        init = version / "hls" / name / playlist.segment_map[0].uri
        ftyp, moov = _boxes(init)[:2]
        assert ftyp.type == b"ftyp" and b"cmfc" in ftyp.compatible_brands  # CMAF track brand
        assert [b.type for b in moov.children].count(b"trak") == 1  # one track per file
        segments = [version / "hls" / name / s.uri for s in playlist.segments]
        for seg in segments:
            types = [b.type for b in _boxes(seg)]
            assert types == [b"styp", b"sidx", b"moof", b"mdat"], types  # one CMAF fragment per segment
        tfdts[name] = [_tfdt(s) for s in segments]
    assert tfdts["aac_128"] == tfdts["aac_256"] == tfdts["aac_320"]
    assert len(tfdts["aac_128"]) >= 3


def test_the_mpd_is_valid_dash_over_the_very_segments_of_the_hls_renditions(world: dict) -> None:
    root, version = world["root"], world["root"] / world["prefix"]
    mpd_path = version / "hls" / "manifest.mpd"
    mpd = _mpd(mpd_path)
    assert mpd.profiles == "urn:mpeg:dash:profile:isoff-main:2011" and mpd.type == "static"
    seconds = float(re.fullmatch(r"PT([0-9.]+)S", mpd.media_presentation_duration).group(1))
    assert seconds == pytest.approx(DURATION, abs=0.05)  # plus AAC's 1024 priming samples
    (adaptation,) = mpd.periods[0].adaptation_sets
    assert adaptation.mime_type == "audio/mp4" and adaptation.segment_alignment
    reps = adaptation.representations
    assert [r.id for r in reps] == ["aac_128", "aac_256", "aac_320"]
    for rep in reps:
        assert rep.codecs == "mp4a.40.2" and rep.audio_sampling_rate == "44100" and rep.bandwidth > 0
        sl = rep.segment_lists[0]
        timeline = sl.segment_timelines[0].Ss
        ticks = [s.d for s in timeline for _ in range((s.r or 0) + 1)]
        assert len(ticks) == len(sl.segment_urls)
        assert sum(ticks) / sl.timescale == pytest.approx(seconds, abs=0.001)
        hls = m3u8.load(str(version / "hls" / rep.id / "index.m3u8"))
        assert [round(s.duration * sl.timescale) for s in hls.segments] == ticks
    # one set of segments: every object the MPD names is one the HLS playlists name, and nothing else
    dash_refs = {k for refs in _segment_refs(mpd_path, root).values() for k in refs}
    hls_refs = set()
    for name in ("aac_128", "aac_256", "aac_320"):
        playlist = m3u8.load(str(version / "hls" / name / "index.m3u8"))
        base = f"{world['prefix']}/hls/{name}"
        hls_refs |= {f"{base}/{playlist.segment_map[0].uri}", *(f"{base}/{s.uri}" for s in playlist.segments)}
    assert dash_refs == hls_refs
    stored = {p.relative_to(root).as_posix() for p in (version / "hls").rglob("*.m4s")}
    stored |= {p.relative_to(root).as_posix() for p in (version / "hls").rglob("*.mp4")}
    assert stored == hls_refs


def test_the_hifi_manifests_add_flac_in_fmp4_to_the_aac_ladder(world: dict) -> None:
    version = world["root"] / world["prefix"]
    master = m3u8.load(str(version / "master.m3u8"))
    assert [p.stream_info.codecs for p in master.playlists] == ["mp4a.40.2"] * 3 + ["fLaC"]
    mpd = _mpd(version / "manifest.mpd")
    # one codec per AdaptationSet (an MSE SourceBuffer holds one), switchable between the two
    aac_set, flac_set = mpd.periods[0].adaptation_sets
    assert [(r.id, r.codecs) for r in aac_set.representations] == [
        (f"aac_{k}", "mp4a.40.2") for k in (128, 256, 320)
    ]
    assert [(r.id, r.codecs) for r in flac_set.representations] == [("flac", "fLaC")]
    for one, other in ((aac_set, flac_set), (flac_set, aac_set)):
        (prop,) = one.supplemental_properties
        assert prop.scheme_id_uri == "urn:mpeg:dash:adaptation-set-switching:2016" and prop.value == str(
            other.id
        )
    flac = version / "flac"
    init = next(flac.glob("*.mp4"))
    moov = _boxes(init)[1]
    assert b"fLaC" in init.read_bytes() and b"dfLa" in init.read_bytes() and moov.type == b"moov"
    # aligned with the AAC renditions, so a player can switch between lossless and AAC at any segment
    aac = m3u8.load(str(version / "hls" / "aac_320" / "index.m3u8"))
    lossless = m3u8.load(str(version / "flac" / "index.m3u8"))
    assert [s.duration for s in lossless.segments] == pytest.approx(
        [s.duration for s in aac.segments], abs=1e-5
    )
    # the FLAC rendition decodes to exactly the source's samples
    pcm = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(version / "flac" / "index.m3u8"), "-f", "s16le", "-"],
        capture_output=True,
        check=True,
    ).stdout
    assert len(pcm) == DURATION * 44_100 * 2 * 2


def test_a_lossy_source_has_no_hifi_manifests(world: dict) -> None:
    grant = _grant(world, world["hifi"], world["lossy"])
    assert grant["dash_url"] and grant["hifi_hls_url"] is None and grant["hifi_dash_url"] is None


def test_the_served_mpd_carries_a_signed_base_that_ffmpeg_follows(world: dict, tmp_path: Path) -> None:
    grant = _grant(world, world["fan"])
    assert grant["dash_url"].endswith("/hls/manifest.mpd")
    assert grant["hifi_hls_url"] is None and grant["hifi_dash_url"] is None  # not a hi-fi listener
    r = httpx.get(world["url"] + grant["dash_url"])
    assert r.status_code == 200 and r.headers["content-type"] == "application/dash+xml"
    assert r.headers["cache-control"].startswith("private")
    base = re.search(r"<BaseURL>([^<]+)</BaseURL>", r.text).group(1)
    assert base.startswith("/media/") and base.endswith(f"/{world['prefix']}/hls/")
    (tmp_path / "served.mpd").write_text(r.text)
    assert len(_mpd(tmp_path / "served.mpd").base_urls) == 1
    out = tmp_path / "out.wav"
    proc = subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-i",
            world["url"] + grant["dash_url"],
            "-map",
            "0:a:0",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert float(probe.stdout) == pytest.approx(DURATION, abs=0.1)


def test_a_listeners_token_does_not_open_the_lossless_segments(world: dict) -> None:
    """The token in the everyone-MPD is scoped to hls/; the FLAC rendition sits beside it."""
    fan_mpd = httpx.get(world["url"] + _grant(world, world["fan"])["dash_url"]).text
    base = re.search(r"<BaseURL>([^<]+)</BaseURL>", fan_mpd).group(1)
    hifi_mpd = httpx.get(world["url"] + _grant(world, world["hifi"])["hifi_dash_url"]).text
    hifi_base = re.search(r"<BaseURL>([^<]+)</BaseURL>", hifi_mpd).group(1)
    flac_init = re.search(r'sourceURL="(flac/[^"]+)"', hifi_mpd).group(1)
    aac_init = re.search(r'sourceURL="(aac_128/[^"]+)"', fan_mpd).group(1)
    assert httpx.get(world["url"] + hifi_base + flac_init).status_code == 200
    assert httpx.get(world["url"] + base + aac_init).status_code == 200
    token = base.split("/")[2]
    stolen = f"/media/{token}/{world['prefix']}/{flac_init}"
    assert httpx.get(world["url"] + stolen).status_code == 403
    assert posixpath.basename(flac_init) not in fan_mpd


def test_a_hifi_listener_gets_both_hifi_manifests_and_ffmpeg_decodes_the_lossless_one(world: dict) -> None:
    grant = _grant(world, world["hifi"])
    assert grant["hifi_hls_url"].endswith(f"{world['prefix']}/master.m3u8")
    assert grant["hifi_dash_url"].endswith(f"{world['prefix']}/manifest.mpd")
    master = httpx.get(world["url"] + grant["hifi_hls_url"]).text
    assert 'CODECS="fLaC"' in master
    for url in (grant["hifi_hls_url"], grant["hifi_dash_url"]):
        proc = subprocess.run(
            [
                "ffmpeg",
                "-nostdin",
                "-v",
                "error",
                "-i",
                world["url"] + url,
                "-map",
                "0:a:3",
                "-f",
                "s16le",
                "-",
            ],
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr.decode()
        assert len(proc.stdout) == DURATION * 44_100 * 2 * 2  # the lossless rendition, sample for sample
