"""Keyset paging behind offset-based protocols.

Subsonic clients page a whole library by offset (`search3` with an empty query, `songOffset=0, 500,
1000, …`). An OFFSET makes the database walk every row before the page: at 100,000 tracks the last page
walks them all (about 100 ms here), and a full sync of 200 pages pays that on average half the time.
The server gives each page in id order, so the page after one it gave starts right after that page's
last id: this remembers, per client, where each page it was given ended (`owner`, `kind`, the offset
that follows) and answers the next offset with an index range (`id > last`), which costs the same at
any depth. An offset nobody was given a page before (a client jumping, an entry expired) is an OFFSET.

Keyed per client, a walk stays the client's own: if the catalog changes between two of its pages, it
continues after the last row it actually received (a keyset walk skips nothing that was there; an
OFFSET walk would skip or repeat rows around the change). Entries expire after `ttl` seconds. One
instance belongs to one `bootstrap.App`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

from cachetools import TTLCache


class PageCursors:
    def __init__(
        self, *, ttl: float = 900, maxsize: int = 20_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._lock = threading.Lock()
        self._ends: TTLCache[tuple[Hashable, str, int], int] = TTLCache(maxsize=maxsize, ttl=ttl, timer=clock)

    def after(self, owner: Hashable, kind: str, offset: int) -> int | None:
        """The last id of the page this owner was given that ended at `offset` (None: not known)."""
        if offset <= 0:
            return None
        with self._lock:
            return self._ends.get((owner, kind, offset))

    def gave(self, owner: Hashable, kind: str, offset: int, ids: list[int]) -> None:
        """Remember that the page at `offset` held `ids` (in id order)."""
        if not ids:
            return
        with self._lock:
            self._ends[(owner, kind, offset + len(ids))] = ids[-1]
