"""The rights rules in plain Python: no framework, no database."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from cadenza.errors import InvalidInput

_TERRITORY = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class Right:
    """The facts of one right that the rules look at."""

    right_type: str
    territory: str | None  # None: worldwide
    expires_at: datetime | None  # None: no expiry


def normalize_territory(value: str | None) -> str | None:
    """An ISO 3166-1 alpha-2 code in upper case, or None for worldwide; anything else is invalid."""
    if value is None:
        return None
    code = value.strip().upper()
    # ASCII before upper-casing: 'ﬀ'.upper() is 'FF', a code nobody typed.
    if not value.isascii() or not _TERRITORY.match(code):
        raise InvalidInput(f"territory {value!r} is not an ISO 3166-1 alpha-2 code")
    return code


def has_right(rights: Iterable[Right], *, right_type: str, territory: str | None, at: datetime) -> bool:
    """True when a right of `right_type` covers `territory` (or is worldwide) and has not expired at `at`."""
    code = territory.upper() if territory else None
    return any(
        r.right_type == right_type
        and (r.territory is None or (code is not None and r.territory == code))
        and (r.expires_at is None or r.expires_at > at)
        for r in rights
    )


def can_stream(rights: Iterable[Right], territory: str | None, at: datetime) -> bool:
    """The seed's rule: a live `stream` right, worldwide or for this territory."""
    return has_right(rights, right_type="stream", territory=territory, at=at)
