"""Storage key layouts, built in one place: a track's media lives under `tracks/<id>/<version>/`."""

from __future__ import annotations

_TRACKS = "tracks"


def track_root(track_id: int) -> str:
    """Every object a track published, in all its versions: `tracks/<id>`."""
    return f"{_TRACKS}/{track_id}"


def track_prefix(track_id: int, version: str) -> str:
    """One version of a track's media (a hash of its source and the output settings)."""
    return f"{track_root(track_id)}/{version}"


def track_id_of(key: str) -> int | None:
    """The track a media key belongs to (`tracks/<id>/...`), or None for any other key."""
    parts = key.split("/", 2)
    if len(parts) > 2 and parts[0] == _TRACKS and parts[1].isascii() and parts[1].isdigit():
        return int(parts[1])
    return None


def tagged(source_key: str, digest: str) -> str:
    """A copy of the file `source_key` with tags added (`delivery.replaygain`), named by a digest of the
    tag values: beside its source, `<dir>/<stem>.tagged-<digest><ext>`, so it lives and goes with that
    media version."""
    slash = source_key.rfind("/")
    dot = source_key.rfind(".")
    if dot <= slash:
        return f"{source_key}.tagged-{digest}"
    return f"{source_key[:dot]}.tagged-{digest}{source_key[dot:]}"
