"""The start pieces a stream grant can carry (delivery/start.py), at unit speed on a local store."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cadenza.accounts.models import Tier
from cadenza.config import Delivery
from cadenza.delivery import service, signing, start
from cadenza.rights import policy
from cadenza.storage.local import LocalStore

PREFIX = "tracks/7/abc123"
KEYS = signing.Keyring(active="k1", keys={"k1": "s" * 32})
MASTER = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-STREAM-INF:BANDWIDTH=330000,CODECS="mp4a.40.2"
aac_320/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=140000,CODECS="mp4a.40.2"
aac_128/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=270000,CODECS="mp4a.40.2"
aac_256/index.m3u8
"""
LEVEL = """#EXTM3U
#EXT-X-TARGETDURATION:6
#EXT-X-MAP:URI="0123456789abcdef.mp4"
#EXTINF:6.0,
1111111111111111.m4s
#EXT-X-ENDLIST
"""
INIT = b"\x00\x00\x00\x18ftypiso6" + bytes(range(200))


def _store(tmp_path: Path, *, master: str = MASTER, level: str = LEVEL, init: bytes = INIT) -> LocalStore:
    store = LocalStore(tmp_path / "store")
    store.put_bytes(f"{PREFIX}/hls/master.m3u8", master.encode())
    store.put_bytes(f"{PREFIX}/hls/aac_128/index.m3u8", level.encode())
    store.put_bytes(f"{PREFIX}/hls/aac_128/0123456789abcdef.mp4", init)
    return store


def test_the_lightest_level_is_chosen_by_bandwidth_not_by_order(tmp_path: Path) -> None:
    assert start.lightest_level(MASTER) == "aac_128/index.m3u8"
    pieces = start.read_pieces(_store(tmp_path), media_prefix=PREFIX)
    assert pieces.level_key == f"{PREFIX}/hls/aac_128/index.m3u8"
    assert pieces.level == LEVEL
    assert base64.b64decode(pieces.init) == INIT


def test_the_inlined_master_is_signed_as_the_media_path_signs_it(tmp_path: Path) -> None:
    pieces = start.read_pieces(_store(tmp_path), media_prefix=PREFIX)
    inline = start.inline(pieces, keyring=KEYS, ttl=600, ip="192.0.2.1", now=1_000_000)
    token = inline.level_url.split("/")[2]
    assert inline.level_url == f"/media/{token}/{PREFIX}/hls/aac_128/index.m3u8"
    assert inline.level_url in inline.master.splitlines()
    segment = f"{PREFIX}/hls/aac_128/1111111111111111.m4s"
    assert signing.verify(KEYS, token=token, key=segment, ip="192.0.2.1", now=1_000_100) == 1_000_600
    with pytest.raises(signing.SignatureError):
        signing.verify(KEYS, token=token, key=segment, ip="192.0.2.2", now=1_000_100)
    with pytest.raises(signing.SignatureError):  # the prefix is this version's hls/, nothing beside it
        signing.verify(KEYS, token=token, key=f"{PREFIX}/flac/index.m3u8", ip="192.0.2.1", now=1_000_100)


@pytest.mark.parametrize(
    ("master", "level"),
    [
        (MASTER.replace("aac_128/index.m3u8", "../../other/hls/aac_128/index.m3u8"), LEVEL),
        (MASTER.replace("aac_128/index.m3u8", "/abs/index.m3u8"), LEVEL),
        (MASTER, LEVEL.replace('#EXT-X-MAP:URI="0123456789abcdef.mp4"\n', "")),
        ("#EXTM3U\n", LEVEL),
    ],
    ids=["leaves the prefix", "absolute", "no init section", "no variant"],
)
def test_pieces_not_as_the_packager_writes_them_are_refused(tmp_path: Path, master: str, level: str) -> None:
    with pytest.raises(ValueError):
        start.read_pieces(_store(tmp_path, master=master, level=level), media_prefix=PREFIX)


def test_an_oversized_init_section_is_not_inlined(tmp_path: Path) -> None:
    store = _store(tmp_path, init=b"\0" * (start.MAX_INIT_BYTES + 1))
    with pytest.raises(ValueError):
        start.read_pieces(store, media_prefix=PREFIX)


def test_the_cache_reads_once_and_remembers_a_broken_version(tmp_path: Path) -> None:
    store = _store(tmp_path)
    cache = start.StartPiecesCache(store)

    async def twice(prefix: str) -> tuple[object, object]:
        a, b = await asyncio.gather(cache.get(prefix), cache.get(prefix))  # one read shared
        return a, b

    a, b = asyncio.run(twice(PREFIX))
    assert a is not None and a is b
    store.delete(f"{PREFIX}/hls/master.m3u8")
    assert asyncio.run(cache.get(PREFIX)) is a  # from memory: the store is not asked again
    assert asyncio.run(twice("tracks/8/missing")) == (None, None)
    store.put_bytes("tracks/8/missing/hls/master.m3u8", MASTER.encode())
    assert asyncio.run(cache.get("tracks/8/missing")) is None  # a version's content never changes


def _media(*, protected: bool) -> service.TrackMedia:
    return service.TrackMedia(
        id=7,
        media_prefix=PREFIX,
        duration_sec=20.0,
        waveform_key=None,
        variant_keys={},
        hifi_unavailable_reason=None,
        rights=(policy.Right("stream", None, None),),
        protected=protected,
    )


@pytest.mark.parametrize("protected", [False, True])
def test_a_grant_carries_the_pieces_when_given_except_for_a_protected_track(
    tmp_path: Path, protected: bool
) -> None:
    pieces = start.read_pieces(_store(tmp_path), media_prefix=PREFIX)
    cfg = Delivery()
    grant, _ = service.authorize_stream(
        _media(protected=protected),
        track_id=7,
        listener=service.Listener(1, Tier.free),
        ip="192.0.2.1",
        territory="DE",
        keyring=KEYS,
        start_ttl=60,
        cfg=cfg,
        at=datetime(2026, 1, 1, tzinfo=UTC),
        now=1_000_000,
        start=pieces,
    )
    if protected:
        assert grant.start is None
        return
    assert grant.start is not None
    token = grant.start.level_url.split("/")[2]
    # the segments' token lives as long as the master URL's answer would give it: the whole track
    assert signing.verify(KEYS, token=token, key=pieces.level_key, ip="192.0.2.1", now=1_000_000) == (
        1_000_000 + service.playback_ttl(cfg, 20.0)
    )
