"""The web player, built from `player/` by the set-up command into `web/static/`, served at `/`.

`index.html` is revalidated on every load (`no-cache`), so a new build is picked up at once; everything
under `/assets/` is named by its content hash (Vite), so it is cached for a year and never revalidated,
and sent as the build's precompressed Brotli or gzip copy when the browser accepts one.
Without a build (a checkout where `scripts/setup.sh` has not run), `/` answers 503 with a page that says
so, never a 500. The player is public (the app shell holds nothing protected: the API checks every call).

Offline (player/src/sw.ts): `/sw.js` is the service worker. Its URL cannot carry a hash (the browser
looks for updates at the same address), so it is revalidated on every load like the shell, never cached
as immutable (a stale worker would pin an old build), and allowed the scope `/`. The web app manifest is
revalidated too; its icons are plain names, cached for a day."""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path

from fastapi import Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from cadenza.errors import NotFound
from cadenza.web.deps import public_router

BUILT = Path(__file__).parent / "static"
INDEX_CACHE = "no-cache"
ASSET_CACHE = "public, max-age=31536000, immutable"
ICON_CACHE = "public, max-age=86400"
# Vite's output names: `index-<hash>.js`, one level deep; nothing else is ever looked up on disk.
_ASSET_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}\.[A-Za-z0-9]{1,8}")

router = public_router(include_in_schema=False)  # the app shell, not API: not in the OpenAPI schema

_NOT_BUILT = """<!doctype html><html lang="en"><meta charset="utf-8"><title>Cadenza: player not built</title>
<body style="font:16px system-ui;max-width:40em;margin:4em auto">
<h1>The web player is not built</h1>
<p>Run <code>scripts/setup.sh</code> (or <code>make run</code>), which builds <code>player/</code> into
<code>src/cadenza/web/static/</code>, then reload this page. The API is up: <a href="/docs">/docs</a>.</p>
</body></html>"""


def _root(request: Request) -> Path:
    """The build directory: `create_app(static_dir=...)` for tests, else the package's own."""
    return getattr(request.app.state, "static_dir", None) or BUILT


@router.get("/")
def index(request: Request) -> Response:
    page = _root(request) / "index.html"
    if not page.is_file():
        return HTMLResponse(
            _NOT_BUILT, status_code=503, headers={"Cache-Control": "no-store", "Retry-After": "60"}
        )
    return FileResponse(page, media_type="text/html; charset=utf-8", headers={"Cache-Control": INDEX_CACHE})


@router.get("/assets/{name}")
def asset(name: str, request: Request) -> Response:
    path = _root(request) / "assets" / name
    if not _ASSET_NAME.fullmatch(name) or not path.is_file():
        raise NotFound(f"no asset {name!r} in the player's build")
    headers = {"Cache-Control": ASSET_CACHE, "Vary": "Accept-Encoding"}
    accepted = _accepted_encodings(request.headers.get("accept-encoding", ""))
    for encoding, suffix in _PRECOMPRESSED:
        packed = path.with_name(path.name + suffix)
        if encoding in accepted and packed.is_file():
            media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            headers["Content-Encoding"] = encoding
            return FileResponse(packed, media_type=media_type, headers=headers)
    return FileResponse(path, headers=headers)


# The build writes `.br` and `.gz` beside each script and style (player/vite.config.ts); best first.
_PRECOMPRESSED = (("br", ".br"), ("gzip", ".gz"))


def _accepted_encodings(header: str) -> set[str]:
    """Content codings an Accept-Encoding header allows (`q=0` refuses one)."""
    accepted = set()
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        q = params.strip().removeprefix("q=").strip() if params.strip().startswith("q=") else "1"
        try:
            if float(q) > 0:
                accepted.add(coding.strip().lower())
        except ValueError:
            continue
    return accepted


@router.get("/sw.js")
def service_worker(request: Request) -> Response:
    path = _root(request) / "sw.js"
    if not path.is_file():
        raise NotFound("the player's build has no service worker")
    headers = {"Cache-Control": INDEX_CACHE, "Service-Worker-Allowed": "/"}
    return FileResponse(path, media_type="text/javascript; charset=utf-8", headers=headers)


@router.get("/manifest.webmanifest")
def web_app_manifest(request: Request) -> Response:
    path = _root(request) / "manifest.webmanifest"
    if not path.is_file():
        raise NotFound("the player's build has no web app manifest")
    return FileResponse(path, media_type="application/manifest+json", headers={"Cache-Control": INDEX_CACHE})


@router.get("/icons/{name}")
def icon(name: str, request: Request) -> Response:
    path = _root(request) / "icons" / name
    if not _ASSET_NAME.fullmatch(name) or not path.is_file():
        raise NotFound(f"no icon {name!r} in the player's build")
    return FileResponse(path, headers={"Cache-Control": ICON_CACHE})
