"""Subsonic sign-ins of one process: the app-password cipher and the memory of recent successful checks.

Every Subsonic call carries its credentials (there is no session), so checking each one against the
database (and, for an app password, decrypting every live credential of the user) would cost a query or
more per request. A successful check is remembered for `accounts.token_cache_sec` (as bearer tokens are,
`App.principals`), keyed by a hash of exactly what was sent; a revocation through this process forgets
the user's entries at once, elsewhere within that time. Failures are never remembered: each is counted.

One instance belongs to one `bootstrap.App` (the composition root makes it), so two apps in a process
(tests, a CLI beside a server) never share a cipher or a remembered sign-in."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

from cachetools import TTLCache

from cadenza.accounts.service import Principal
from cadenza.accounts.subsonic_credentials import Vault

MAX_REMEMBERED = 50_000


def credential_key(*sent: str | None) -> str:
    """A fixed-length key for exactly the credentials a call carried (never stored in clear)."""
    joined = "\0".join(v or "" for v in sent)
    return hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()


class SubsonicSignIns:
    def __init__(
        self,
        *,
        secret: str,
        ttl: float,
        maxsize: int = MAX_REMEMBERED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.vault = Vault(secret)
        self._ttl = ttl
        self._lock = threading.Lock()  # TTLCache is not thread-safe; calls run in worker threads
        self._remembered: TTLCache[str, Principal] | None = (
            TTLCache(maxsize=maxsize, ttl=ttl, timer=clock) if ttl > 0 else None
        )

    def recall(self, key: str) -> Principal | None:
        if self._remembered is None:
            return None
        with self._lock:
            return self._remembered.get(key)

    def remember(self, key: str, principal: Principal) -> None:
        if self._remembered is None:
            return
        with self._lock:
            self._remembered[key] = principal

    def forget_user(self, user_id: int) -> None:
        """Drop what this process remembers of the user's credentials (after a revocation)."""
        if self._remembered is None:
            return
        with self._lock:
            for key in [k for k, p in self._remembered.items() if p.id == user_id]:
                del self._remembered[key]

    def __len__(self) -> int:
        if self._remembered is None:
            return 0
        with self._lock:
            self._remembered.expire()
            return len(self._remembered)
