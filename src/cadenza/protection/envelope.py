"""Envelope encryption of content keys under a master key from configuration (AES-256-GCM).

The database holds only wrapped keys; the master keys live in configuration (a secret store in
production). The track id and KID are the associated data, so a wrapped key copied onto another row
does not unwrap. Several master keys can be configured: the active one wraps, any one unwraps, so the
master rotates by re-wrapping (`cadenza keys rewrap`, `protection.keys.rewrap_batches`) without
touching media."""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE = 12


class UnwrapError(Exception):
    """A wrapped key did not open: unknown master key id, or tampered or misplaced ciphertext."""


@dataclass(frozen=True)
class MasterKeys:
    active: str
    keys: dict[str, bytes]


def _aad(track_id: int, kid: bytes) -> bytes:
    return f"cadenza-content-key|{track_id}|{kid.hex()}".encode()


def wrap(masters: MasterKeys, *, track_id: int, kid: bytes, key: bytes) -> tuple[str, bytes]:
    """(master key id, nonce + ciphertext) for a content key."""
    nonce = os.urandom(NONCE)
    sealed = AESGCM(masters.keys[masters.active]).encrypt(nonce, key, _aad(track_id, kid))
    return masters.active, nonce + sealed


def unwrap(masters: MasterKeys, *, master_id: str, track_id: int, kid: bytes, wrapped: bytes) -> bytes:
    master = masters.keys.get(master_id)
    if master is None:
        raise UnwrapError(f"master key {master_id!r} is not configured")
    try:
        return AESGCM(master).decrypt(wrapped[:NONCE], wrapped[NONCE:], _aad(track_id, kid))
    except InvalidTag as exc:
        raise UnwrapError("wrapped key does not open under its master key") from exc
