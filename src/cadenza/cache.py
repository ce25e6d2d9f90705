"""A thread-safe, refresh-ahead TTL cache for hot read paths (tokens, track media and rights).

An entry is served for at most `ttl` seconds after it was read from the database, so a change made in
another process is seen within `ttl`, as with a plain TTL cache. The difference is what a steady reader
pays: the first read of an entry past its refresh point (`refresh_after`, half the TTL by default, plus
a random share of the rest, so entries loaded together do not come due together) queues the key for a
background thread that reloads queued keys in batches, one `load` call per batch, while readers go on
getting the cached value. A key read steadily never makes a request wait for the database; only a key
nobody read for a while, or a new one, is loaded for its reader.

Refreshes are gathered: with `gather` > 0 the background thread, woken by a key that came due, waits
up to `gather` seconds (real time) for more to come due before it reads them, unless a miss arrives or
a batch fills. Entries come due one by one (spread out on purpose), so without it each refresh was a
batch of one or two keys: on the stream benchmark's 1,000 tracks that thread spent more CPU re-reading
tracks (about 2 ms a read, three queries) than the stream route itself. A second of gathering reads
them 30-50 at a time; it delays a refresh by at most `gather`, well inside the TTL.

Misses from async code (`get_async`) are coalesced the same way: the request waits, but the keys that
miss while a batch is being read are read together in the next one, so a burst of new keys costs a few
batched reads rather than one read (and one worker thread) per request. Misses go before refreshes.

A `drop` (a change made through this process) wins over a reload that was already running: results
read before the drop are not stored."""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from contextlib import suppress
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
        jitter: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        name: str = "cache",
        gather: float = 0.0,
    ) -> None:
        """`load(keys)` returns the current value of each key it finds; a key it leaves out is gone.
        `gather`: seconds to collect refreshes into one batch (at most the time left after the refresh
        point, so a refresh still lands within the TTL)."""
        # key -> (value, loaded at, refresh from)
        self._entries: LRUCache[K, tuple[V, float, float]] = LRUCache(maxsize=maxsize)
        self._ttl = ttl
        self._refresh_after = ttl / 2 if refresh_after is None else min(refresh_after, ttl)
        self._load = load
        self._batch = batch
        # Entries loaded together (a warm-up, a burst) come due at spread-out times, not all at once.
        self._jitter = (ttl - self._refresh_after) * jitter
        self._gather = max(0.0, min(gather, (ttl - self._refresh_after - self._jitter) / 2))
        self._random = random.Random()
        self._clock = clock
        self._name = name
        self._lock = threading.Lock()
        self._queued: dict[K, None] = {}  # insertion-ordered set
        self._misses: dict[K, list[tuple[asyncio.AbstractEventLoop, asyncio.Future[V | None]]]] = {}
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
            value, loaded_at, refresh_at = entry
            if now - loaded_at >= self._ttl:
                del self._entries[key]
                return None
            if now >= refresh_at and key not in self._queued and not self._closed:
                self._queued[key] = None
                self._ensure_thread()
                self._wake.notify()
            return value

    async def get_async(self, key: K) -> V | None:
        """The cached value, else the loader's (read in the next batch, with other misses), else None."""
        value = self.get(key)
        if value is not None:
            return value
        loop = asyncio.get_running_loop()
        future: asyncio.Future[V | None] = loop.create_future()
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self._name}: the cache is closed")
            self._misses.setdefault(key, []).append((loop, future))
            self._ensure_thread()
            self._wake.notify()
        return await future

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._entries[key] = self._entry(value, self._clock())

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
                        self._entries[key] = self._entry(found[key], now)
                    else:
                        self._entries.pop(key, None)
        return found

    def _entry(self, value: V, now: float) -> tuple[V, float, float]:
        return value, now, now + self._refresh_after + self._random.random() * self._jitter

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._queued.clear()
            waiting, self._misses = self._misses, {}
            self._wake.notify_all()
            thread = self._thread
        _settle_all(waiting, {}, RuntimeError(f"{self._name}: the cache is closed"))
        if thread is not None:
            thread.join(timeout=5)

    # --- background reloads ----------------------------------------------------------------------

    def _gather_refreshes(self) -> None:  # with the lock held; `wait` lets readers in meanwhile
        deadline = time.monotonic() + self._gather
        while not self._misses and not self._closed and len(self._queued) < self._batch:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._wake.wait(left)

    def _ensure_thread(self) -> None:  # with the lock held
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name=f"{self._name}-refresh", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._queued and not self._misses and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                if self._gather and not self._misses:
                    self._gather_refreshes()
                    if self._closed:
                        return
                keys = list(self._misses)[: self._batch]
                waiting = {k: self._misses.pop(k) for k in keys}
                keys += [k for k in self._queued if k not in waiting][: self._batch - len(keys)]
                # Only these leave the queue after the read: a key queued for a refresh while it was
                # being read as a miss must stay queued.
                taken = [k for k in keys if k in self._queued]
            found: Mapping[K, V] = {}
            error: Exception | None = None
            started = time.monotonic()
            try:
                found = self.load_now(keys)
            except Exception as exc:  # refreshed entries stay until their TTL; waiting readers get the error
                log.exception("%s: reading %d keys failed", self._name, len(keys))
                error = exc
            _settle_all(waiting, found, error)
            with self._lock:
                for key in taken:
                    self._queued.pop(key, None)
            if error is not None:
                time.sleep(0.5)  # a database that is down is not asked again at the request rate
            elif not waiting:
                # Refreshes are not urgent: a pause twice the batch's time keeps this thread's share of
                # the GIL (and of the database) to a third while hundreds of entries come due at once.
                time.sleep(min(2 * (time.monotonic() - started), 0.1))


def _settle_all(
    waiting: Mapping[K, list[tuple[asyncio.AbstractEventLoop, asyncio.Future[V | None]]]],
    found: Mapping[K, V],
    error: Exception | None,
) -> None:
    for key, futures in waiting.items():
        for loop, future in futures:
            with suppress(RuntimeError):  # that event loop is closed: nobody is waiting any more
                loop.call_soon_threadsafe(_settle, future, found.get(key), error)


def _settle(future: asyncio.Future[V | None], value: V | None, error: Exception | None) -> None:
    if future.done():  # the request was cancelled
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
