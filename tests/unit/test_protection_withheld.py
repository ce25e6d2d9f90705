"""The no-clear-copy rule of protected tracks, at unit speed (`delivery.service`, no database, no HTTP):
protected by policy or by its published media, a track gets no MP3/FLAC URL in its grant and no
download; a clear track with the same rights gets both."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from cadenza.accounts.models import Tier
from cadenza.config import Delivery
from cadenza.delivery import service
from cadenza.delivery.signing import Keyring
from cadenza.errors import Forbidden
from cadenza.rights.policy import Right

AT = datetime(2026, 11, 30, tzinfo=UTC)
CLEAR = service.TrackMedia(
    id=7,
    media_prefix="tracks/7/v1",
    duration_sec=30.0,
    waveform_key="tracks/7/v1/waveform.json",
    variant_keys={"mp3_320": "tracks/7/v1/download/mp3_320.mp3", "flac": "tracks/7/v1/download/hifi.flac"},
    hifi_unavailable_reason=None,
    rights=(Right("stream", None, None), Right("download", None, None)),
)
HIFI = service.Listener(1, Tier.hifi)


def _grant(media: service.TrackMedia) -> service.StreamGrant:
    grant, _ = service.authorize_stream(
        media, track_id=media.id, listener=HIFI, ip="127.0.0.1", territory=None,
        keyring=Keyring(active="k", keys={"k": "secret"}), start_ttl=60, cfg=Delivery(), at=AT,
    )  # fmt: skip
    return grant


def test_a_clear_track_with_a_download_right_gets_its_files() -> None:
    grant = _grant(CLEAR)
    assert grant.mp3_url and grant.flac_url and grant.licence_url is None
    for quality in ("mp3_320", "flac"):
        key = service.authorize_download(
            CLEAR, track_id=7, listener=HIFI, territory=None, quality=quality, at=AT
        )
        assert key == CLEAR.variant_keys[quality]


@pytest.mark.parametrize(
    "media",
    [replace(CLEAR, protection_set=True), replace(CLEAR, protected=True, protection_set=True)],
    ids=["policy-before-repackage", "encrypted"],
)
def test_a_protected_track_gets_no_clear_file(media: service.TrackMedia) -> None:
    assert media.withheld
    grant = _grant(media)
    assert grant.mp3_url is None and grant.flac_url is None
    assert grant.hls_url  # it still plays (encrypted, or clear until repackaged)
    for quality in ("mp3_320", "flac"):
        with pytest.raises(Forbidden, match="protected"):
            service.authorize_download(
                media, track_id=7, listener=HIFI, territory=None, quality=quality, at=AT
            )
