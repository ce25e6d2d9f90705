"""The media path as raw ASGI, in front of the FastAPI app: `/media/{token}/{key}` and `/origin/{key}`.

Kept off the framework on purpose: every segment request passes here, so it does only what it must
(split the path, check the HMAC, stat, plan the response, move the bytes) — see bench/delivery.py."""

from __future__ import annotations

import hmac
import json
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
from cachetools import TTLCache

from cadenza.delivery import clientip, manifests, ranges, signing
from cadenza.errors import InvalidInput
from cadenza.storage import mediatypes
from cadenza.storage.base import ObjectStore, check_key

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_INLINE_READ = 1024 * 1024  # read smaller bodies in the event loop (page cache); larger ones in a thread
_CHUNK = 512 * 1024


class MediaConfig:
    """What the media path needs, resolved once at start."""

    def __init__(
        self,
        *,
        store: ObjectStore,
        keyring: signing.Keyring,
        bind_ip: bool,
        trusted_proxies: list[str],
        manifest_max_age: int,
        progressive_max_age: int,
        playback_ttl: Callable[[str], Awaitable[int]],
        origin_secret: str,
        accel: bool,
    ) -> None:
        self.store = store
        self.keyring = keyring
        self.bind_ip = bind_ip
        self.trusted = clientip.parse_trusted(trusted_proxies)
        self.manifest_max_age = manifest_max_age
        self.progressive_max_age = progressive_max_age
        self.playback_ttl = playback_ttl
        self.origin_secret = origin_secret
        self.accel = accel


def _read_text(store: ObjectStore, key: str) -> str:
    return b"".join(store.read_range(key, 0, store.stat(key).size - 1)).decode()


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


async def _json(send: Send, status: int, error: str, reason: str) -> None:
    body = json.dumps({"error": error, "reason": reason}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _valid_key(send: Send, key: str) -> bool:
    """Answer 404 unless `key` is a valid object key. The server has already percent-decoded the path
    once, as nginx does; decoding it again would make `%252e` mean something nginx never saw."""
    try:
        check_key(key)
    except InvalidInput:
        await _json(send, 404, "not_found", "no such object")
        return False
    return True


class MediaMiddleware:
    def __init__(self, app: ASGIApp, cfg: Callable[[], MediaConfig]) -> None:
        self.app = app
        self._cfg_factory = cfg
        self._cfg: MediaConfig | None = None
        # Master playlists by key. A key names one media version (content hash of source and settings),
        # so its text never changes; kept a few minutes, a listener starting a track already played
        # here needs no store round trip, and playback goes on while the store is unreachable (the
        # shield serves the rest from its cache: tests/e2e/test_cluster_faults.py).
        self._masters: TTLCache[str, str] = TTLCache(maxsize=4096, ttl=300)

    @property
    def cfg(self) -> MediaConfig:
        if self._cfg is None:
            self._cfg = self._cfg_factory()
        return self._cfg

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith("/media/"):
            await self._media(scope, send, path[len("/media/") :])
        elif path.startswith("/origin/"):
            await self._origin(scope, send, path[len("/origin/") :])
        else:
            await self.app(scope, receive, send)

    def _client(self, scope: Scope, headers: dict[str, str]) -> str:
        peer = scope.get("client") or ("", 0)
        return clientip.client_ip(peer[0], headers.get("x-forwarded-for"), self.cfg.trusted)

    async def _media(self, scope: Scope, send: Send, rest: str) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await _json(send, 405, "method_not_allowed", "only GET and HEAD")
            return
        token, _, key = rest.partition("/")
        if not await _valid_key(send, key):
            return
        headers = _headers(scope)
        ip = self._client(scope, headers)
        try:
            signing.verify(self.cfg.keyring, token=token, key=key, ip=ip if self.cfg.bind_ip else None)
        except signing.SignatureError as exc:
            await _json(send, 403, "forbidden", exc.reason)
            return
        if manifests.is_manifest(key):
            await self._master(scope, send, key, ip)
        elif self.cfg.accel:
            # nginx serves the bytes from its shield cache (deploy/nginx/cadenza.conf, location /_accel/).
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"x-accel-redirect", f"/_accel/{key}".encode()), (b"content-length", b"0")],
                }
            )
            await send({"type": "http.response.body", "body": b""})
        else:
            await self._object(scope, send, key, headers)

    async def _origin(self, scope: Scope, send: Send, raw_key: str) -> None:
        headers = _headers(scope)
        given = headers.get("x-cadenza-origin", "")
        if not hmac.compare_digest(given.encode(), self.cfg.origin_secret.encode()):
            await _json(send, 403, "forbidden", "origin access needs the origin secret")
            return
        if not await _valid_key(send, raw_key):
            return
        await self._object(scope, send, raw_key, headers)

    async def _master(self, scope: Scope, send: Send, key: str, ip: str) -> None:
        cfg = self.cfg
        text = self._masters.get(key)
        if text is None:
            try:
                # In a thread: an object store that hangs (S3 unreachable) must not stop this process's
                # event loop, and with it every other request.
                text = await anyio.to_thread.run_sync(_read_text, cfg.store, key)
            except (FileNotFoundError, ValueError):
                await _json(send, 404, "not_found", "no such object")
                return
            self._masters[key] = text
        depth = manifests.track_prefix_depth(key)
        exp = int(time.time()) + await cfg.playback_ttl(key)
        token = signing.sign(
            cfg.keyring, key=key, depth=depth, expires_at=exp, ip=ip if cfg.bind_ip else None
        )
        try:
            body = manifests.rewrite(text, key=key, token=token).encode()
        except ValueError:
            await _json(send, 404, "not_found", "no such manifest")
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", mediatypes.content_type(key).encode()),
                    (b"content-length", str(len(body)).encode()),
                    # the body names this client's token: no shared cache may keep it
                    (b"cache-control", f"private, max-age={cfg.manifest_max_age}".encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    async def _object(self, scope: Scope, send: Send, key: str, headers: dict[str, str]) -> None:
        cfg = self.cfg
        local = None
        try:
            local = cfg.store.local_path(key)
            st = cfg.store.stat(key)
        except (FileNotFoundError, ValueError, OSError):
            await _json(send, 404, "not_found", "no such object")
            return
        facts = ranges.ObjectFacts(
            size=st.size,
            mtime=st.mtime,
            etag=st.etag,
            content_type=mediatypes.content_type(key),
            cache_control=mediatypes.cache_control(
                key, manifest_max_age=cfg.manifest_max_age, progressive_max_age=cfg.progressive_max_age
            ),
        )
        plan = ranges.plan(scope["method"], headers, facts)
        await send(
            {
                "type": "http.response.start",
                "status": plan.status,
                "headers": [(k.encode(), v.encode()) for k, v in plan.headers],
            }
        )
        if not plan.body or not plan.ranges:
            await send({"type": "http.response.body", "body": b""})
            return
        if (
            local is not None
            and plan.status == 200
            and "http.response.pathsend" in scope.get("extensions", {})
        ):
            # Granian (and other servers with the ASGI pathsend extension) send the file zero-copy.
            await send({"type": "http.response.pathsend", "path": str(local)})
        elif local is not None:
            await self._send_file(send, str(local), plan, facts)
        else:
            await self._send_store(send, key, plan, facts)

    async def _send_file(self, send: Send, path: str, plan: ranges.Plan, facts: ranges.ObjectFacts) -> None:
        fd = os.open(path, os.O_RDONLY)
        finished = False
        try:
            for i, (start, end) in enumerate(plan.ranges):
                if plan.boundary:
                    part = plan.part_header(start, end, facts)
                    await send({"type": "http.response.body", "body": part, "more_body": True})
                inline = end - start + 1 <= _INLINE_READ
                pos = start
                while pos <= end:
                    n = min(_CHUNK, end - pos + 1)
                    data = (
                        os.pread(fd, n, pos)
                        if inline
                        else await anyio.to_thread.run_sync(os.pread, fd, n, pos)
                    )
                    if not data:
                        break  # the file shrank under us; end the response rather than hang
                    pos += len(data)
                    finished = pos > end and i == len(plan.ranges) - 1 and not plan.boundary
                    await send({"type": "http.response.body", "body": data, "more_body": not finished})
            if plan.boundary:
                await send({"type": "http.response.body", "body": plan.closing()})
                finished = True
        finally:
            os.close(fd)
            if not finished:
                await send({"type": "http.response.body", "body": b""})

    async def _send_store(self, send: Send, key: str, plan: ranges.Plan, facts: ranges.ObjectFacts) -> None:
        for start, end in plan.ranges:
            if plan.boundary:
                await send(
                    {
                        "type": "http.response.body",
                        "body": plan.part_header(start, end, facts),
                        "more_body": True,
                    }
                )
            chunks = self.cfg.store.read_range(key, start, end)
            while True:
                data = await anyio.to_thread.run_sync(next, chunks, None)
                if data is None:
                    break
                await send({"type": "http.response.body", "body": data, "more_body": True})
        await send({"type": "http.response.body", "body": plan.closing() if plan.boundary else b""})
