"""A thread-safe, refresh-ahead TTL cache for hot read paths (tokens, track media and rights).

An entry is served for at most `ttl` seconds after it was read from the database, so a change made in
another process is seen within `ttl`, as with a plain TTL cache. The difference is what a steady reader
pays: the first read of an entry older than `refresh_after` (half the TTL by default) queues the key for
a background thread that reloads queued keys in batches, one `load` call per batch, while readers go on
getting the cached value. A key read at least once per `ttl - refresh_after` never makes a request wait
for the database; only a key nobody read for a while, or a new one, is loaded by its reader.

A `drop` (a change made through this process) wins over a reload that was already running: results
read before the drop are not stored."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Generic, TypeVar

from cachetools import LRUCache

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

log = logging.getLogger(__name__)

Loader = Callable[[list[K]], Mapping[K, V]]


class RefreshAhead(Generic[K, V]):
    def __init__(
        self,
        *,
        maxsize: int,
        ttl: float,
        load: Loader[K, V],
        refresh_after: float | None = None,
        batch: int = 100,
        clock: Callable[[], float] = time.monotonic,
        name: str = "cache",
    ) -> None:
        """`load(keys)` returns the current value of each key it finds; a key it leaves out is gone."""
        self._entries: LRUCache[K, tuple[V, float]] = LRUCache(maxsize=maxsize)
        self._ttl = ttl
        self._refresh_after = ttl / 2 if refresh_after is None else min(refresh_after, ttl)
        self._load = load
        self._batch = batch
        self._clock = clock
        self._name = name
        self._lock = threading.Lock()
        self._queued: dict[K, None] = {}  # insertion-ordered set
        self._epoch = 0  # bumped by drop/clear: a reload that started before is not stored
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._closed = False

    def get(self, key: K) -> V | None:
        """The cached value, or None when it is not cached or older than the TTL."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            value, loaded_at = entry
            age = now - loaded_at
            if age >= self._ttl:
                del self._entries[key]
                return None
            if age >= self._refresh_after and key not in self._queued and not self._closed:
                self._queued[key] = None
                self._ensure_thread()
                self._wake.notify()
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._entries[key] = (value, self._clock())

    def drop(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)
            self._queued.pop(key, None)
            self._epoch += 1

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._queued.clear()
            self._epoch += 1

    def get_or_load(self, key: K) -> V | None:
        """The cached value, else the loader's (stored), else None. Blocks on a miss: call off the loop."""
        value = self.get(key)
        if value is None:
            value = self.load_now([key]).get(key)
        return value

    def load_now(self, keys: Iterable[K]) -> Mapping[K, V]:
        """Load keys in the caller's thread and store what was found (dropping what is gone)."""
        wanted = list(keys)
        with self._lock:
            epoch = self._epoch
        found = self._load(wanted)
        now = self._clock()
        with self._lock:
            if epoch == self._epoch:
                for key in wanted:
                    if key in found:
                        self._entries[key] = (found[key], now)
                    else:
                        self._entries.pop(key, None)
        return found

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._queued.clear()
            self._wake.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=5)

    # --- background reloads ----------------------------------------------------------------------

    def _ensure_thread(self) -> None:  # with the lock held
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name=f"{self._name}-refresh", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._queued and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                keys = list(self._queued)[: self._batch]
            try:
                self.load_now(keys)
            except Exception:  # the entries stay until their TTL; a reader then loads them itself
                log.exception("%s: background reload of %d keys failed", self._name, len(keys))
                time.sleep(0.5)  # a database that is down is not asked again at the request rate
            with self._lock:
                for key in keys:
                    self._queued.pop(key, None)
