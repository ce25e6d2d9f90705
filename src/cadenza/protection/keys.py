"""Where content keys come from: the `KeyProvider` interface and the local (envelope) provider.

Two callers, two questions:
- packaging asks `packaging_key(track_id)`: the key to encrypt a track's segments with (made on first
  use) — its KID goes into the init segments, the PSSH and the MPD;
- the licence endpoint asks `licence_keys(track_id, kids)`: the keys of those KIDs, only if they belong
  to that track (the rights were checked before the question is asked).

`LocalKeyProvider` keeps keys in `content_keys`, wrapped under the configured master key, and serves
Clear Key licences itself. A commercial multi-DRM service plugs in here as another provider: its
`packaging_key` would send a CPIX document (DASH-IF CPIX 2.3: content id, KIDs, the DRM systems wanted)
to the vendor's key server and get back the keys plus each system's PSSH and signalling (Widevine,
PlayReady, FairPlay), which the packager writes into the init segments and the MPD beside Clear Key's;
licences for those systems are then issued by the vendor's licence servers after calling back Cadenza's
entitlement check (the same rights rules the Clear Key endpoint uses), so its `licence_keys` would
answer only Clear Key, or nothing. Nothing here pretends to be Widevine or FairPlay.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cadenza.db.base import utcnow
from cadenza.db.engine import transaction
from cadenza.protection import envelope
from cadenza.protection.models import ContentKey


@dataclass(frozen=True)
class TrackKey:
    kid: bytes
    key: bytes


class KeyProvider(Protocol):
    def packaging_key(self, *, track_id: int) -> TrackKey:
        """The key new media of this track is encrypted with (created if the track has none)."""
        ...

    def licence_keys(self, *, track_id: int, kids: Sequence[bytes]) -> dict[bytes, bytes]:
        """KID → key for the requested KIDs that belong to this track (unknown ones are left out)."""
        ...

    def rotate(self, *, track_id: int) -> TrackKey:
        """A fresh key for new media of this track; older keys keep answering until retired."""
        ...


class LocalKeyProvider:
    """Keys in the database, wrapped under the master key; unwrapped keys cached briefly in memory."""

    def __init__(
        self, sessions: sessionmaker[Session], masters: envelope.MasterKeys, *, cache_sec: float
    ) -> None:
        self._sessions = sessions
        self._masters = masters
        self._cache_sec = cache_sec
        self._cache: dict[int, tuple[float, dict[bytes, bytes]]] = {}
        self._lock = threading.Lock()

    def packaging_key(self, *, track_id: int) -> TrackKey:
        with transaction(self._sessions) as s:
            row = s.scalars(
                select(ContentKey)
                .where(ContentKey.track_id == track_id, ContentKey.retired_at.is_(None))
                .order_by(ContentKey.id.desc())
                .limit(1)
            ).first()
            if row is not None:
                kid = bytes.fromhex(row.kid)
                return TrackKey(kid, self._unwrap(row, kid))
            return self._new_key(s, track_id)

    def rotate(self, *, track_id: int) -> TrackKey:
        with transaction(self._sessions) as s:
            key = self._new_key(s, track_id)
        self.forget(track_id)
        return key

    def retire_others(self, *, track_id: int, keep: bytes) -> None:
        """Retire every key of the track but `keep` (once media under them is no longer published)."""
        with transaction(self._sessions) as s:
            for row in s.scalars(select(ContentKey).where(ContentKey.track_id == track_id)):
                if row.kid != keep.hex() and row.retired_at is None:
                    row.retired_at = utcnow()
        self.forget(track_id)

    def licence_keys(self, *, track_id: int, kids: Sequence[bytes]) -> dict[bytes, bytes]:
        known = self._track_keys(track_id)
        return {kid: known[kid] for kid in kids if kid in known}

    def forget(self, track_id: int) -> None:
        with self._lock:
            self._cache.pop(track_id, None)

    def _track_keys(self, track_id: int) -> dict[bytes, bytes]:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(track_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        with self._sessions() as s:
            rows = s.scalars(
                select(ContentKey).where(ContentKey.track_id == track_id, ContentKey.retired_at.is_(None))
            ).all()
            keys = {bytes.fromhex(r.kid): self._unwrap(r, bytes.fromhex(r.kid)) for r in rows}
        with self._lock:
            self._cache[track_id] = (now + self._cache_sec, keys)
        return keys

    def _unwrap(self, row: ContentKey, kid: bytes) -> bytes:
        return envelope.unwrap(
            self._masters, master_id=row.master_key_id, track_id=row.track_id, kid=kid, wrapped=row.wrapped
        )

    def _new_key(self, s: Session, track_id: int) -> TrackKey:
        kid, key = os.urandom(16), os.urandom(16)
        master_id, wrapped = envelope.wrap(self._masters, track_id=track_id, kid=kid, key=key)
        s.add(ContentKey(track_id=track_id, kid=kid.hex(), wrapped=wrapped, master_key_id=master_id))
        s.flush()
        return TrackKey(kid, key)


@dataclass(frozen=True)
class RewrapBatch:
    """One committed step of a master-key rotation: the rows looked at (ids up to `last_id`), how many
    were re-wrapped, and those that did not open (content key id → reason), left as they were."""

    last_id: int
    rewrapped: int
    failed: dict[int, str]


def rewrap_pending(sessions: sessionmaker[Session], *, target: str) -> dict[str, int]:
    """How many content keys are wrapped under each master key other than `target` (what is left)."""
    with sessions() as s:
        rows = s.execute(
            select(ContentKey.master_key_id, func.count())
            .where(ContentKey.master_key_id != target)
            .group_by(ContentKey.master_key_id)
        )
        return {master_id: int(n) for master_id, n in rows}


def rewrap_batches(
    sessions: sessionmaker[Session],
    masters: envelope.MasterKeys,
    *,
    batch: int = 500,
    dry_run: bool = False,
) -> Iterator[RewrapBatch]:
    """Re-wrap every content key not under `masters.active`, `batch` rows per transaction, in id order.

    Each batch commits on its own, so a stopped run has lost at most one batch and a second run picks
    up what is still under an old master (it selects by master id, not by position). With `dry_run`
    every row is unwrapped (so the real run's failures show) in a read-only session and nothing is
    written. A row that does not open (its master key not configured, or tampered) is reported and
    skipped, never half-written: the key and its wrapping change in one UPDATE. Rows are locked (`FOR
    UPDATE`, PostgreSQL) so two runs at once do not wrap the same row twice."""
    after = 0
    while True:
        failed: dict[int, str] = {}
        done = 0
        with _session(sessions, dry_run=dry_run) as s:
            query = (
                select(ContentKey)
                .where(ContentKey.master_key_id != masters.active, ContentKey.id > after)
                .order_by(ContentKey.id)
                .limit(batch)
            )
            rows = list(s.scalars(query if dry_run else query.with_for_update()))
            if not rows:
                return
            for row in rows:
                kid = bytes.fromhex(row.kid)
                try:
                    key = envelope.unwrap(
                        masters,
                        master_id=row.master_key_id,
                        track_id=row.track_id,
                        kid=kid,
                        wrapped=row.wrapped,
                    )
                except envelope.UnwrapError as exc:
                    failed[row.id] = f"track {row.track_id}, kid {row.kid}: {exc}"
                    continue
                if not dry_run:
                    row.master_key_id, row.wrapped = envelope.wrap(
                        masters, track_id=row.track_id, kid=kid, key=key
                    )
                done += 1
            after = rows[-1].id
        yield RewrapBatch(last_id=after, rewrapped=done, failed=failed)


def _session(sessions: sessionmaker[Session], *, dry_run: bool) -> AbstractContextManager[Session]:
    return sessions() if dry_run else transaction(sessions)


def rewrap_all(sessions: sessionmaker[Session], masters: envelope.MasterKeys) -> int:
    """Re-wrap every content key under the active master key (master-key rotation); returns how many
    changed. Media and KIDs stay as they are; the old master key can be removed afterwards. `cadenza keys
    rewrap` runs the same in batches with a progress bar; a key that does not open raises here."""
    changed = 0
    for step in rewrap_batches(sessions, masters):
        if step.failed:
            raise envelope.UnwrapError("; ".join(step.failed.values()))
        changed += step.rewrapped
    return changed
