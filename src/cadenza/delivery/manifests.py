"""Rewriting the manifests a listener starts from (HLS master playlists, DASH MPDs) so that every URI in
them carries a playback token scoped to the manifest's directory.

Which directory decides what a listener can reach: `tracks/<id>/<v>/hls/master.m3u8` and
`hls/manifest.mpd` (everyone) open `tracks/<id>/<v>/hls/`, the AAC renditions only; the hi-fi
`master.m3u8` and `manifest.mpd` at the version root open `tracks/<id>/<v>/`, which adds `flac/`."""

from __future__ import annotations

import posixpath
import re

from cadenza.delivery import signing

_URI_ATTR = re.compile(r'URI="([^"]*)"')


_MPD_OPEN = re.compile(r"<MPD\b[^>]*>")


def is_manifest(key: str) -> bool:
    """The objects the media path rewrites per listener instead of serving as stored."""
    return key.endswith(("/master.m3u8", ".mpd"))


def track_prefix_depth(manifest_key: str) -> int:
    """Segments of the manifest's directory: `tracks/<id>/<v>/hls/master.m3u8` → 4, the hi-fi
    `tracks/<id>/<v>/master.m3u8` → 3."""
    return len(manifest_key.split("/")) - 1


def rewrite(text: str, *, key: str, token: str) -> str:
    """The listener's copy of the manifest at `key`."""
    if key.endswith(".mpd"):
        return rewrite_mpd(text, mpd_key=key, token=token)
    return rewrite_master(text, master_key=key, token=token)


def rewrite_mpd(text: str, *, mpd_key: str, token: str) -> str:
    """Put a signed `BaseURL` first in the MPD: every segment URL in it is relative, so each resolves to
    `/media/{token}/{dir}/{url}`, within the token's scope (the MPD's directory), as HLS variants do."""
    base = f"/media/{token}/{posixpath.dirname(mpd_key)}/"
    match = _MPD_OPEN.search(text)
    if match is None:
        raise ValueError(f"{mpd_key}: not an MPD")
    return f"{text[: match.end()]}\n  <BaseURL>{base}</BaseURL>{text[match.end() :]}"


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
