"""Signed media tokens: what opens, what never does (including a property test over mutations)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cadenza.delivery import signing
from cadenza.delivery.signing import Keyring, SignatureError

KEYS = Keyring(active="k2", keys={"k1": "old secret", "k2": "new secret"})
KEY = "tracks/12/abcdef0123456789/hls/aac_128/0123456789abcdef.m4s"
NOW = 1_800_000_000


def _token(key: str = KEY, depth: int = 3, ip: str | None = "192.0.2.1", exp: int = NOW + 60) -> str:
    return signing.sign(KEYS, key=key, depth=depth, expires_at=exp, ip=ip)


def test_prefix_token_opens_every_object_of_its_track_version() -> None:
    token = _token()
    for key in (
        KEY,
        "tracks/12/abcdef0123456789/hls/master.m3u8",
        "tracks/12/abcdef0123456789/waveform.json",
    ):
        assert signing.verify(KEYS, token=token, key=key, ip="192.0.2.1", now=NOW) == NOW + 60


@pytest.mark.parametrize(
    ("key", "ip", "now", "reason"),
    [
        ("tracks/13/abcdef0123456789/hls/master.m3u8", "192.0.2.1", NOW, "bad signature"),  # other track
        ("tracks/12/ffffffffffffffff/hls/master.m3u8", "192.0.2.1", NOW, "bad signature"),  # other version
        (KEY, "192.0.2.2", NOW, "bad signature"),  # other client
        (KEY, "192.0.2.1", NOW + 61, "token expired"),
    ],
)
def test_token_refuses(key: str, ip: str, now: int, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        signing.verify(KEYS, token=_token(), key=key, ip=ip, now=now)


def test_exact_token_opens_one_key_only() -> None:
    token = _token(depth=0)
    assert signing.verify(KEYS, token=token, key=KEY, ip="192.0.2.1", now=NOW)
    with pytest.raises(SignatureError):
        signing.verify(
            KEYS, token=token, key=KEY.replace("0123456789abcdef.m4s", "x.m4s"), ip="192.0.2.1", now=NOW
        )


def test_rotation_accepts_old_keys_and_forgets_removed_ones() -> None:
    old = signing.sign(Keyring("k1", KEYS.keys), key=KEY, depth=0, expires_at=NOW + 60, ip=None)
    assert signing.verify(KEYS, token=old, key=KEY, ip=None, now=NOW)
    with pytest.raises(SignatureError, match="unknown key id"):
        signing.verify(Keyring("k2", {"k2": "new secret"}), token=old, key=KEY, ip=None, now=NOW)


@pytest.mark.parametrize(
    "token", ["", "x", "k2~1~0~short", "k2~abc~0~" + "A" * 43, "k2~1~0~" + "A" * 44, "../../x"]
)
def test_malformed_tokens(token: str) -> None:
    with pytest.raises(SignatureError):
        signing.verify(KEYS, token=token, key=KEY, ip=None, now=NOW)


def test_depth_past_the_key_is_refused() -> None:
    token = signing.sign(KEYS, key="a/b/c", depth=0, expires_at=NOW + 9, ip=None)
    forged = token.replace("~0~", "~9~")
    with pytest.raises(SignatureError):
        signing.verify(KEYS, token=forged, key="a/b/c", ip=None, now=NOW)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_single_change_to_a_token_is_refused(data: st.DataObject) -> None:
    token = _token()
    i = data.draw(st.integers(0, len(token) - 1))
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_~"
    c = data.draw(st.sampled_from(alphabet).filter(lambda ch: ch != token[i]))
    mutated = token[:i] + c + token[i + 1 :]
    with pytest.raises(SignatureError):
        signing.verify(KEYS, token=mutated, key=KEY, ip="192.0.2.1", now=NOW)
