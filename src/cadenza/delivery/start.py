"""What a player needs to start a track, carried in its stream grant when asked (`?inline=start`).

A play that starts from the grant alone waits for five round trips in sequence: the grant, the master
playlist, the level playlist, the init section, the first segment. On an emulated 4G link (40 ms RTT,
10 Mbit/s) that was 446 ms from click to audio (bench/player.py, quiet machine); the grant can carry
the three small pieces in between (the master, the lightest level's playlist, its init section: ~2 KB
for a few minutes of audio), which leaves the grant and the first segment.

The pieces are read from the store once per media version (a media prefix names immutable content, so
they never go stale) and kept in this process's memory; a grant that does not ask pays nothing. The
master is signed per grant exactly as the media path signs it (`manifests.rewrite_master`, the same
prefix token and lifetime), so every URL a player reaches from it is a signed `/media/` URL checked at
the edge; the level playlist is inlined as stored (its URIs are relative and resolve under that token).
Protected tracks are left out: their start goes through the licence exchange."""

from __future__ import annotations

import asyncio
import base64
import logging
import posixpath
import re
from dataclasses import dataclass

from cachetools import LRUCache

from cadenza.delivery import manifests, signing
from cadenza.storage.base import ObjectStore

log = logging.getLogger(__name__)

MAX_INIT_BYTES = 64 * 1024  # an AAC init section is under 1 KB; anything far larger is not inlined
MAX_PLAYLIST_BYTES = 256 * 1024  # a level playlist for hours of audio; past that, the player fetches it
_BANDWIDTH = re.compile(r"^#EXT-X-STREAM-INF:.*\bBANDWIDTH=(\d+)")
_MAP_URI = re.compile(r'^#EXT-X-MAP:.*\bURI="([^"]+)"')


@dataclass(frozen=True)
class StartPieces:
    """The stored pieces of one media version, read once."""

    master_key: str
    master: str  # as stored (relative URIs)
    level_key: str  # the lightest level's playlist
    level: str  # as stored (relative URIs)
    init: str  # base64 of that level's init section


@dataclass(frozen=True)
class StartInline:
    """The pieces for one grant: what the master URL, the level URL and the init URL would answer."""

    master: str  # signed for this listener, as `/media/…/master.m3u8` answers
    level_url: str  # the lightest level's signed URL (one of the master's lines)
    level: str
    init: str  # base64


def master_key(media_prefix: str) -> str:
    return f"{media_prefix}/hls/master.m3u8"


def _child(base_key: str, uri: str, prefix: str) -> str:
    """The key `uri` (relative to `base_key`'s directory) names, if it stays under `prefix`."""
    if "://" in uri or uri.startswith("/"):
        raise ValueError(f"{base_key}: {uri!r} is not a relative URI")
    key = posixpath.normpath(posixpath.join(posixpath.dirname(base_key), uri))
    if not key.startswith(prefix):
        raise ValueError(f"{base_key}: {uri!r} leaves {prefix}")
    return key


def lightest_level(master: str) -> str:
    """The URI of the master's variant with the lowest BANDWIDTH (the level a player starts on)."""
    lines = [line.strip() for line in master.splitlines()]
    best: tuple[int, str] | None = None
    for i, line in enumerate(lines):
        m = _BANDWIDTH.match(line)
        uri = next((u for u in lines[i + 1 :] if u and not u.startswith("#")), None) if m else None
        if m and uri and (best is None or int(m.group(1)) < best[0]):
            best = (int(m.group(1)), uri)
    if best is None:
        raise ValueError("the master playlist names no variant")
    return best[1]


def _read(store: ObjectStore, key: str, limit: int) -> bytes:
    size = store.size(key)
    if size > limit:
        raise ValueError(f"{key}: {size} bytes, more than {limit} to inline")
    return b"".join(store.read_range(key, 0, size - 1)) if size else b""


def read_pieces(store: ObjectStore, *, media_prefix: str) -> StartPieces:
    """Read the master, its lightest level's playlist and that level's init section (three reads).
    FileNotFoundError or ValueError when the stored media is not as the packager writes it."""
    mkey = master_key(media_prefix)
    prefix = signing.scope_of(mkey, manifests.track_prefix_depth(mkey))
    master = _read(store, mkey, MAX_PLAYLIST_BYTES).decode()
    level_key = _child(mkey, lightest_level(master), prefix)
    level = _read(store, level_key, MAX_PLAYLIST_BYTES).decode()
    init_uri = next((m.group(1) for line in level.splitlines() if (m := _MAP_URI.match(line.strip()))), None)
    if init_uri is None:
        raise ValueError(f"{level_key}: no EXT-X-MAP init section")
    init = _read(store, _child(level_key, init_uri, prefix), MAX_INIT_BYTES)
    return StartPieces(
        master_key=mkey,
        master=master,
        level_key=level_key,
        level=level,
        init=base64.b64encode(init).decode("ascii"),
    )


def inline(
    pieces: StartPieces, *, keyring: signing.Keyring, ttl: int, ip: str | None, now: float
) -> StartInline:
    """The pieces signed for one listener: the master's URIs carry a prefix token valid `ttl` seconds, as
    the media path gives (`web.media`), bound to `ip` when IP binding is on."""
    depth = manifests.track_prefix_depth(pieces.master_key)
    token = signing.sign(keyring, key=pieces.master_key, depth=depth, expires_at=int(now + ttl), ip=ip)
    return StartInline(
        master=manifests.rewrite_master(pieces.master, master_key=pieces.master_key, token=token),
        level_url=f"/media/{token}/{pieces.level_key}",
        level=pieces.level,
        init=pieces.init,
    )


class StartPiecesCache:
    """Start pieces by media prefix, read from the store on the first ask (in a worker thread: a slow
    store must not hold the event loop), then from memory. Concurrent first asks share one read. A
    version whose pieces cannot be read as expected is remembered as None (its content never changes);
    an error of the store itself (unreachable) is not remembered, and the grant goes without them."""

    def __init__(self, store: ObjectStore, *, maxsize: int = 20_000) -> None:
        self._store = store
        self._pieces: LRUCache[str, StartPieces | None] = LRUCache(maxsize=maxsize)
        self._reading: dict[str, asyncio.Future[StartPieces | None]] = {}

    async def get(self, media_prefix: str) -> StartPieces | None:
        if media_prefix in self._pieces:
            return self._pieces[media_prefix]
        pending = self._reading.get(media_prefix)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[StartPieces | None] = asyncio.get_running_loop().create_future()
        self._reading[media_prefix] = future
        pieces: StartPieces | None = None
        try:
            pieces = await asyncio.to_thread(read_pieces, self._store, media_prefix=media_prefix)
            self._pieces[media_prefix] = pieces
        except (FileNotFoundError, ValueError, UnicodeDecodeError) as exc:
            log.warning("start pieces of %s not inlined: %s", media_prefix, exc)
            self._pieces[media_prefix] = None
        except Exception as exc:  # the store failed: try again on a later grant
            log.warning("start pieces of %s not read: %r", media_prefix, exc)
        finally:  # also when this request was cancelled: whoever shares the read gets an answer
            del self._reading[media_prefix]
            future.set_result(pieces)
        return pieces
