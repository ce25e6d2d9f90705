"""The per-listener manifests: tokens scoped to the manifest's directory, a signed BaseURL in MPDs."""

from __future__ import annotations

import pytest

from cadenza.delivery import manifests, signing

KEYS = signing.Keyring("k1", {"k1": "secret"})
V = "tracks/7/0123456789abcdef"
MPD = """<?xml version='1.0' encoding='utf-8'?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static">
  <Period id="0"><AdaptationSet><Representation id="aac_128"><SegmentList>
    <Initialization sourceURL="aac_128/aaaa.mp4" /><SegmentURL media="aac_128/bbbb.m4s" />
  </SegmentList></Representation></AdaptationSet></Period>
</MPD>
"""


def test_a_manifest_token_opens_its_own_directory_only() -> None:
    assert signing.scope_of(f"{V}/hls/master.m3u8", manifests.track_prefix_depth(f"{V}/hls/master.m3u8")) == (
        f"{V}/hls/"
    )
    assert signing.scope_of(f"{V}/manifest.mpd", manifests.track_prefix_depth(f"{V}/manifest.mpd")) == f"{V}/"


def test_the_everyone_token_does_not_open_the_lossless_rendition() -> None:
    key = f"{V}/hls/manifest.mpd"
    token = signing.sign(KEYS, key=key, depth=manifests.track_prefix_depth(key), expires_at=2**31, ip=None)
    assert signing.verify(KEYS, token=token, key=f"{V}/hls/aac_128/bbbb.m4s", ip=None, now=0)
    with pytest.raises(signing.SignatureError):
        signing.verify(KEYS, token=token, key=f"{V}/flac/cccc.m4s", ip=None, now=0)


def test_an_mpd_gets_a_signed_base_url_first_and_is_otherwise_unchanged() -> None:
    out = manifests.rewrite(MPD, key=f"{V}/hls/manifest.mpd", token="k1~9~4~sig")
    assert "<BaseURL>/media/k1~9~4~sig/tracks/7/0123456789abcdef/hls/</BaseURL>" in out
    assert out.index("<BaseURL>") < out.index("<Period")
    assert out.replace("\n  <BaseURL>/media/k1~9~4~sig/tracks/7/0123456789abcdef/hls/</BaseURL>", "") == MPD


def test_something_that_is_not_an_mpd_is_refused() -> None:
    with pytest.raises(ValueError, match="not an MPD"):
        manifests.rewrite("<html/>", key=f"{V}/hls/manifest.mpd", token="t")


@pytest.mark.parametrize(
    ("key", "rewritten"),
    [
        (f"{V}/hls/master.m3u8", True),
        (f"{V}/master.m3u8", True),
        (f"{V}/hls/manifest.mpd", True),
        (f"{V}/hls/aac_128/index.m3u8", False),
        (f"{V}/hls/aac_128/aaaa.m4s", False),
    ],
)
def test_which_objects_are_rewritten(key: str, rewritten: bool) -> None:
    assert manifests.is_manifest(key) is rewritten
