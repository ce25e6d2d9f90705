"""Signed media URLs: HMAC-SHA256 tokens carried in the URL path, checked by Python and by nginx (njs).

A token is `{kid}~{exp}~{depth}~{sig}` and sits in the path before the object key:

    /media/{token}/{key}        e.g. /media/k1~1764130000~3~Zm9v.../tracks/12/ab12cd34/hls/master.m3u8

- `kid`   key id: several keys can be active, so keys rotate without breaking live URLs.
- `exp`   expiry, Unix seconds.
- `depth` what the token opens: 0 = exactly this key; N > 0 = every key under the first N path segments of
          the key (a prefix ending in "/"). Relative URIs in a playlist resolve under the same token, so one
          prefix token opens a whole rendition without rewriting it.
- `sig`   base64url (no padding) of HMAC-SHA256(secret[kid], "{kid}|{exp}|{ip}|{scope}"), where `ip` is the
          client address when IP binding is on (else empty) and `scope` is the key (depth 0) or the prefix.

The same string-to-sign is built by deploy/nginx/cadenza.js; change both together.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass

_TOKEN = re.compile(r"([A-Za-z0-9_-]{1,32})~([0-9]{1,12})~([0-9]{1,2})~([A-Za-z0-9_-]{43})")


class SignatureError(Exception):
    """A token is missing, malformed, expired, or signed for something else."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Keyring:
    """The signing keys: `active` signs new tokens, every key in `keys` is accepted."""

    active: str
    keys: dict[str, str]


def scope_of(key: str, depth: int) -> str:
    """What a token of `depth` for `key` covers: the key itself, or its first `depth` segments + '/'."""
    if depth == 0:
        return key
    parts = key.split("/")
    if depth >= len(parts):
        raise SignatureError("token depth reaches past the object key")
    return "/".join(parts[:depth]) + "/"


def _sig(secret: str, kid: str, exp: int, ip: str, scope: str) -> str:
    msg = f"{kid}|{exp}|{ip}|{scope}".encode()
    digest = hmac.new(secret.encode(), msg, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(keyring: Keyring, *, key: str, depth: int, expires_at: int, ip: str | None) -> str:
    """A token for `key` (depth 0) or for the prefix of its first `depth` segments."""
    kid = keyring.active
    sig = _sig(keyring.keys[kid], kid, expires_at, ip or "", scope_of(key, depth))
    return f"{kid}~{expires_at}~{depth}~{sig}"


def verify(keyring: Keyring, *, token: str, key: str, ip: str | None, now: float | None = None) -> int:
    """Check that `token` opens `key` for a client at `ip`; return its expiry or raise SignatureError."""
    m = _TOKEN.fullmatch(token)
    if not m:
        raise SignatureError("malformed token")
    kid, exp_s, depth_s, sig = m.groups()
    secret = keyring.keys.get(kid)
    if secret is None:
        raise SignatureError("unknown key id")
    exp, depth = int(exp_s), int(depth_s)
    expected = _sig(secret, kid, exp, ip or "", scope_of(key, depth))
    # Compare before looking at the expiry, so timing says nothing about which check failed.
    good = hmac.compare_digest(expected, sig)
    if not good:
        raise SignatureError("bad signature")
    if exp < (time.time() if now is None else now):
        raise SignatureError("token expired")
    return exp


def signed_path(
    keyring: Keyring, *, key: str, depth: int, ttl: int, ip: str | None, now: float | None = None
) -> str:
    """The URL path `/media/{token}/{key}` valid for `ttl` seconds."""
    exp = int((time.time() if now is None else now) + ttl)
    return f"/media/{sign(keyring, key=key, depth=depth, expires_at=exp, ip=ip)}/{key}"
