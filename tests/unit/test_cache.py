"""The refresh-ahead cache: readers of a hot key never wait for the loader; the TTL still bounds staleness."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from cadenza.cache import RefreshAhead


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Source:
    """The data the loader reads, with a log of every batch it was asked for."""

    def __init__(self, data: dict[str, int]) -> None:
        self.data = dict(data)
        self.calls: list[list[str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail = False

    def load(self, keys: list[str]) -> dict[str, int]:
        self.calls.append(list(keys))
        self.entered.set()
        assert self.gate.wait(5)
        if self.fail:
            raise RuntimeError("database is down")
        return {k: self.data[k] for k in keys if k in self.data}


def fetch(cache: RefreshAhead[str, int], key: str) -> int | None:
    """A read as a request makes it: the cached value, else the next batch's."""
    return asyncio.run(cache.get_async(key))


def wait_for(cond: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(source: Source, clock: Clock, ttl: float = 30) -> RefreshAhead[str, int]:
    return RefreshAhead(maxsize=100, ttl=ttl, load=source.load, clock=clock, jitter=0)


def test_miss_loads_once_then_serves_from_memory(clock: Clock) -> None:
    src = Source({"a": 1})
    cache = make(src, clock)
    assert cache.get("a") is None
    assert fetch(cache, "a") == 1
    assert cache.get("a") == 1 and fetch(cache, "a") == 1
    assert src.calls == [["a"]]
    assert fetch(cache, "missing") is None
    cache.close()


def test_stale_entry_is_served_while_one_background_reload_renews_it(clock: Clock) -> None:
    src = Source({"a": 1})
    cache = make(src, clock)
    fetch(cache, "a")
    src.data["a"] = 2
    clock.now += 20  # past refresh_after (15 s), within the TTL
    src.gate.clear()
    src.entered.clear()
    assert cache.get("a") == 1  # served at once, reload queued
    assert src.entered.wait(5)
    assert cache.get("a") == 1 and cache.get("a") == 1  # still the old value, and no second reload queued
    src.gate.set()
    wait_for(lambda: cache.get("a") == 2)
    assert src.calls == [["a"], ["a"]]
    clock.now += 10  # 30 s after the first load, but the entry was renewed at +20
    assert cache.get("a") == 2
    cache.close()


def test_ttl_bounds_staleness_of_an_idle_key(clock: Clock) -> None:
    src = Source({"a": 1})
    cache = make(src, clock)
    fetch(cache, "a")
    clock.now += 30
    assert cache.get("a") is None  # nobody read it between 15 and 30 s: the reader loads it
    src.data["a"] = 5
    assert fetch(cache, "a") == 5
    cache.close()


def test_key_gone_from_the_source_is_forgotten_on_reload(clock: Clock) -> None:
    src = Source({"a": 1})
    cache = make(src, clock)
    fetch(cache, "a")
    del src.data["a"]
    clock.now += 16
    assert cache.get("a") == 1
    wait_for(lambda: cache.get("a") is None)
    cache.close()


def test_stale_keys_reload_in_one_batch(clock: Clock) -> None:
    src = Source({k: i for i, k in enumerate("abcdef")})
    cache = make(src, clock)
    assert cache.load_now(list("abcdef")) == {k: i for i, k in enumerate("abcdef")}
    clock.now += 16
    src.gate.clear()
    src.entered.clear()
    cache.get("a")  # the worker takes ["a"] and blocks in the loader
    assert src.entered.wait(5)
    for k in "bcdef":
        cache.get(k)
    src.gate.set()
    wait_for(lambda: len(src.calls) == 3)
    assert src.calls[1:] == [["a"], list("bcdef")]
    cache.close()


def test_drop_wins_over_a_reload_in_flight(clock: Clock) -> None:
    src = Source({"a": 1})
    cache = make(src, clock)
    fetch(cache, "a")
    clock.now += 16
    src.gate.clear()
    src.entered.clear()
    cache.get("a")
    assert src.entered.wait(5)  # the reload read the old value ...
    cache.drop("a")  # ... and then this process changed it
    src.data["a"] = 9
    src.gate.set()
    wait_for(lambda: not cache._queued)
    assert cache.get("a") is None  # the pre-drop result was not stored
    assert fetch(cache, "a") == 9
    cache.close()


def test_failed_reload_keeps_the_entry_until_its_ttl_and_the_worker_survives(clock: Clock) -> None:
    src = Source({"a": 1, "b": 2})
    cache = make(src, clock)
    cache.load_now(["a", "b"])
    src.fail = True
    clock.now += 16
    assert cache.get("a") == 1
    wait_for(lambda: len(src.calls) == 2 and not cache._queued)
    assert cache.get("b") == 2  # served; a reload of b is queued behind the failure back-off
    src.fail = False
    src.data["b"] = 20
    wait_for(lambda: cache.get("b") == 20)
    clock.now += 30
    assert cache.get("a") is None
    cache.close()


def test_zero_ttl_caches_nothing(clock: Clock) -> None:
    src = Source({"a": 1})
    cache = make(src, clock, ttl=0)
    assert fetch(cache, "a") == 1
    assert cache.get("a") is None
    assert fetch(cache, "a") == 1
    assert len(src.calls) == 2
    cache.close()


def test_entries_loaded_together_come_due_at_spread_out_times(clock: Clock) -> None:
    src = Source({f"k{i}": i for i in range(200)})
    cache = RefreshAhead(maxsize=1000, ttl=30, load=src.load, clock=clock)  # default jitter
    cache.load_now(list(src.data))
    due = []
    src.gate.clear()  # keep the worker from renewing anything while we look
    for step in range(31):
        clock.now = 1000.0 + 15 + step / 4  # 15 s ... 22.5 s after loading
        assert all(cache.get(k) is not None for k in src.data)  # all served; the due ones queued
        due.append(len(cache._queued))
    src.gate.set()
    assert due[0] < 20  # at 15 s only a few are due ...
    assert due[-1] == 200  # ... by 22.5 s (15 + half the rest of the TTL) all of them
    assert len(set(due)) > 5  # and in between they came due gradually
    cache.close()


def test_close_stops_the_worker(clock: Clock) -> None:
    src = Source({"a": 1})
    cache = make(src, clock)
    fetch(cache, "a")
    clock.now += 16
    cache.get("a")
    wait_for(lambda: len(src.calls) == 2)
    thread = cache._thread
    assert thread is not None and thread.is_alive()
    cache.close()
    assert not thread.is_alive()


def test_concurrent_misses_are_read_in_batches() -> None:
    src = Source({f"k{i}": i for i in range(300)})
    cache: RefreshAhead[str, int] = RefreshAhead(maxsize=1000, ttl=30, load=src.load, batch=100)

    async def burst() -> list[int | None]:
        src.gate.clear()  # the first batch blocks in the loader while the other misses pile up
        first = asyncio.ensure_future(cache.get_async("k0"))
        await asyncio.to_thread(src.entered.wait, 5)
        rest = [asyncio.ensure_future(cache.get_async(f"k{i}")) for i in [*range(1, 300), 5, 7]]
        rest.append(asyncio.ensure_future(cache.get_async("missing")))
        for _ in range(3):  # let every reader run up to its wait, so all the misses are queued first
            await asyncio.sleep(0)
        src.gate.set()
        return [await first, *await asyncio.gather(*rest)]

    values = asyncio.run(burst())
    assert values == [*range(300), 5, 7, None]
    assert src.calls[0] == ["k0"]
    assert [len(c) for c in src.calls[1:]] == [100, 100, 100]  # 300 misses (two asked twice): 3 reads
    assert cache.get("k123") == 123  # stored
    cache.close()


def test_a_failed_read_reaches_the_waiting_readers() -> None:
    src = Source({"a": 1})
    src.fail = True
    cache: RefreshAhead[str, int] = RefreshAhead(maxsize=10, ttl=30, load=src.load)
    with pytest.raises(RuntimeError, match="database is down"):
        asyncio.run(cache.get_async("a"))
    src.fail = False
    assert asyncio.run(cache.get_async("a")) == 1
    cache.close()
    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(cache.get_async("b"))


def test_close_releases_readers_still_waiting() -> None:
    src = Source({"a": 1})
    cache: RefreshAhead[str, int] = RefreshAhead(maxsize=10, ttl=30, load=src.load)

    async def main() -> None:
        src.gate.clear()
        first = asyncio.ensure_future(cache.get_async("a"))
        await asyncio.to_thread(src.entered.wait, 5)
        waiting = asyncio.ensure_future(cache.get_async("b"))
        await asyncio.sleep(0.01)
        closer = asyncio.ensure_future(asyncio.to_thread(cache.close))
        await asyncio.sleep(0.01)
        src.gate.set()
        await closer
        assert await first == 1
        with pytest.raises(RuntimeError, match="closed"):
            await waiting

    asyncio.run(main())


def test_refreshes_coming_due_one_by_one_are_gathered_into_one_read(clock: Clock) -> None:
    """With `gather`, keys that come due a moment apart are read together, not one batch each; a miss
    arriving meanwhile is not kept waiting for the gathering."""
    src = Source({k: i for i, k in enumerate("abcdefg")})
    cache = RefreshAhead(maxsize=100, ttl=30, load=src.load, clock=clock, jitter=0, gather=3)
    cache.load_now(list("abcdef"))
    clock.now += 16  # all past their refresh point; readers find them one at a time
    for k in "abcdef":
        assert cache.get(k) is not None
        time.sleep(0.01)
    assert fetch(cache, "g") == 6  # a miss: read at once, with the refreshes queued so far
    wait_for(lambda: len(src.calls) == 2)
    assert src.calls[1] == ["g", *"abcdef"]
    cache.close()


def test_gathering_waits_no_longer_than_asked(clock: Clock) -> None:
    src = Source({"a": 1})
    cache = RefreshAhead(maxsize=100, ttl=30, load=src.load, clock=clock, jitter=0, gather=0.2)
    cache.load_now(["a"])
    clock.now += 16
    cache.get("a")
    assert len(src.calls) == 1  # not read yet: the worker is gathering
    wait_for(lambda: len(src.calls) == 2)  # then read alone, without another reader's help
    assert src.calls[1] == ["a"]
    cache.close()
