"""An honest stand-in for the app behind the edge, serving a media directory the way the app's routes do.

- `GET /origin/<key>`: raw object bytes with Range (single range, suffix, 416), ETag, Last-Modified and
  Cache-Control by object type; only with `X-Cadenza-Origin: <secret>` (403 otherwise).
- `GET /media/<token>/<key>`: checks the token with cadenza.delivery.signing (client = X-Forwarded-For
  when the peer is loopback, as the app trusts nginx) and serves the bytes (the app rewrites masters).
- `GET /accel/<key>`: answers with `X-Accel-Redirect: /_accel/<key>`, as an app view that authorized
  a download would.
- `GET /api/echo`: the request headers as JSON.

Every request is recorded in `seen`, so tests can count what reached the origin."""

from __future__ import annotations

import email.utils
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cadenza.delivery import signing
from cadenza.storage import mediatypes

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def cache_control(key: str) -> str:
    """What the app's /origin/ sends, by type (the same rules, defaults of the settings)."""
    return mediatypes.cache_control(key, manifest_max_age=10, progressive_max_age=86400)


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class StandInOrigin:
    root: Path
    secret: str
    keyring: signing.Keyring | None = None
    slow: dict[str, float] = field(default_factory=dict)  # key → seconds before /origin/ answers it
    cache_control: dict[str, str] = field(default_factory=dict)  # key → Cache-Control instead of by type
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        origin = self

        class Handler(_Handler):
            pass

        Handler.origin = origin
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> StandInOrigin:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    def hits(self, prefix: str = "/") -> list[Seen]:
        """Requests whose path starts with `prefix`."""
        with self._lock:
            return [s for s in self.seen if s.path.startswith(prefix)]

    def origin_hits(self, key: str) -> list[Seen]:
        return self.hits(f"/origin/{key}")


class _Handler(BaseHTTPRequestHandler):
    origin: StandInOrigin
    protocol_version = "HTTP/1.1"  # keep-alive, as nginx's upstream keepalive expects

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet tests

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        o = self.origin
        o.record(Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
        path = self.path.split("?", 1)[0]
        if path.startswith("/origin/"):
            if self.headers.get("X-Cadenza-Origin") != o.secret:
                return self._json(403, {"error": "forbidden", "reason": "origin secret required"})
            key = path.removeprefix("/origin/")
            time.sleep(o.slow.get(key, 0.0))  # lets concurrent misses overlap
            return self._object(key)
        if path.startswith("/media/"):
            token, _, key = path.removeprefix("/media/").partition("/")
            peer = self.client_address[0]
            ip = self.headers.get("X-Forwarded-For", peer) if peer == "127.0.0.1" else peer
            try:
                assert o.keyring is not None
                signing.verify(o.keyring, token=token, key=key, ip=ip)
            except (signing.SignatureError, AssertionError) as exc:
                return self._json(403, {"error": "forbidden", "reason": str(exc)})
            return self._object(key)
        if path.startswith("/accel/"):
            key = path.removeprefix("/accel/")
            return self._send(
                200,
                [
                    ("X-Accel-Redirect", f"/_accel/{key}"),
                    ("Content-Disposition", f'attachment; filename="{Path(key).name}"'),
                    ("Cache-Control", "private, no-store"),
                    ("Set-Cookie", "seen=1"),
                    ("Content-Type", "text/x-app"),
                    ("Content-Length", "0"),
                ],
                b"",
            )
        if path == "/api/echo":
            return self._json(200, {k.lower(): v for k, v in self.headers.items()})
        return self._json(404, {"error": "not_found", "reason": path})

    def _object(self, key: str) -> None:
        file = (self.origin.root / key).resolve()
        if not file.is_relative_to(self.origin.root.resolve()) or not file.is_file():
            return self._json(404, {"error": "not_found", "reason": key})
        data = file.read_bytes()
        st = file.stat()
        size = len(data)
        headers = [
            ("Content-Type", mediatypes.content_type(key)),
            ("Accept-Ranges", "bytes"),
            ("ETag", f'"{st.st_size:x}-{st.st_mtime_ns:x}"'),
            ("Last-Modified", email.utils.formatdate(st.st_mtime, usegmt=True)),
            ("Cache-Control", self.origin.cache_control.get(key) or cache_control(key)),
        ]
        m = _RANGE.match(self.headers.get("Range", ""))
        if not m or (not m.group(1) and not m.group(2)):
            return self._send(200, [*headers, ("Content-Length", str(size))], data)
        if m.group(1):
            start = int(m.group(1))
            end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
        else:
            start, end = max(0, size - int(m.group(2))), size - 1
        if start >= size or end < start:
            return self._send(
                416, [*headers, ("Content-Range", f"bytes */{size}"), ("Content-Length", "0")], b""
            )
        body = data[start : end + 1]
        extra = [("Content-Range", f"bytes {start}-{end}/{size}"), ("Content-Length", str(len(body)))]
        return self._send(206, [*headers, *extra], body)

    def _json(self, status: int, doc: dict[str, str]) -> None:
        body = json.dumps(doc).encode()
        self._send(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body)

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
