"""Content types and cache lifetimes of published objects, by name."""

from __future__ import annotations

CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".m4s": "audio/mp4",
    ".mp4": "audio/mp4",
    ".mp3": "audio/mpeg",
    ".flac": "audio/flac",
    ".json": "application/json",
    ".mpd": "application/dash+xml",
    ".webp": "image/webp",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".bmp": "image/bmp",
}

IMMUTABLE = "public, max-age=31536000, immutable"


def content_type(key: str) -> str:
    dot = key.rfind(".")
    return CONTENT_TYPES.get(key[dot:].lower() if dot >= 0 else "", "application/octet-stream")


def cache_control(key: str, *, manifest_max_age: int, progressive_max_age: int) -> str:
    """Manifests live briefly; content-hashed segments forever; whole files for a day by default."""
    if key.endswith((".m3u8", ".mpd")):
        return f"public, max-age={manifest_max_age}"
    if key.endswith((".m4s", ".mp4")):
        return IMMUTABLE
    return f"public, max-age={progressive_max_age}"
