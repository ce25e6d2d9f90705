"""Rewriting a master playlist so each variant URI carries a track-scoped playback token."""

from __future__ import annotations

import posixpath
import re

from cadenza.delivery import signing

_URI_ATTR = re.compile(r'URI="([^"]*)"')


def track_prefix_depth(master_key: str) -> int:
    """Segments of the track version prefix: `tracks/<id>/<version>/hls/master.m3u8` → 3."""
    return len(master_key.split("/")) - 2


def _resolve(base_dir: str, uri: str, prefix: str) -> str | None:
    if "://" in uri or uri.startswith("/"):
        return None
    key = posixpath.normpath(posixpath.join(base_dir, uri))
    return key if key.startswith(prefix) else None


def rewrite_master(text: str, *, master_key: str, token: str) -> str:
    """Replace relative URIs (lines and URI="" attributes) with `/media/{token}/{key}` paths; anything
    that would leave the track's prefix is dropped rather than signed."""
    base_dir = posixpath.dirname(master_key)
    depth = track_prefix_depth(master_key)
    prefix = signing.scope_of(master_key, depth)
    out: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            key = _resolve(base_dir, stripped, prefix)
            if key is None:
                continue
            out.append(f"/media/{token}/{key}")
        elif stripped.startswith("#") and "URI=" in stripped:

            def sub(m: re.Match[str]) -> str:
                key = _resolve(base_dir, m.group(1), prefix)
                return f'URI="/media/{token}/{key}"' if key else m.group(0)

            out.append(_URI_ATTR.sub(sub, line))
        else:
            out.append(line)
    return "\n".join(out) + "\n"
