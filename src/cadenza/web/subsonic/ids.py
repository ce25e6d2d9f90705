"""Subsonic ids are strings; Cadenza's are numbers per kind, so each carries its kind: `ar-3` (artist),
`al-5` (album = release), `tr-7` (song = track), `pl-2` (playlist). Cover art ids are the id of the item
whose picture it is."""

from __future__ import annotations

from cadenza.web.deps import MAX_ID
from cadenza.web.subsonic.envelope import NOT_FOUND, SubsonicError

ARTIST, ALBUM, SONG, PLAYLIST = "ar", "al", "tr", "pl"
KINDS = (ARTIST, ALBUM, SONG, PLAYLIST)


def make(kind: str, number: int | None) -> str | None:
    return None if number is None else f"{kind}-{number}"


def split(raw: str) -> tuple[str, int]:
    """(kind, number) of an id this server gave; error 70 for anything else."""
    kind, _, digits = raw.partition("-")
    if (
        kind in KINDS
        and digits.isascii()
        and digits.isdigit()
        and len(digits) <= 19
        and 1 <= int(digits) <= MAX_ID
    ):
        return kind, int(digits)
    raise SubsonicError(NOT_FOUND, f"no such id: {raw[:100]!r}")


def parse(raw: str, kind: str) -> int:
    found, number = split(raw)
    if found != kind:
        raise SubsonicError(NOT_FOUND, f"{raw[:100]!r} is not an id of this kind")
    return number
