"""Fault injection shared by the fault tests (tests/integration/test_playback_fault.py on one server,
tests/e2e/test_cluster_faults.py on the loopback cluster): a server's PostgreSQL connections killed
again and again, and a player that sends a batch of playback events until it is answered."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import text

from cadenza.db.engine import make_engine

_KILL = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND {where}"
)


@contextlib.contextmanager
def connections_killed(
    admin_url: str,
    *,
    application_name: str | None = None,
    database: str | None = None,
    pause: tuple[float, float],
) -> Iterator[list[int]]:
    """While the block runs, a thread terminates (`pg_terminate_backend`) every backend of the server,
    found by its `application_name` or its `database`, over and over, waiting a random time within
    `pause` (seconds) between sweeps. Yields the list of how many each sweep killed; the thread has
    stopped when the block ends."""
    if (application_name is None) == (database is None):
        raise ValueError("name the server's backends by application_name or by database")
    where, value = (
        ("application_name = :v", application_name) if application_name else ("datname = :v", database)
    )
    query = text(_KILL.format(where=where))
    stop, kills = threading.Event(), []

    def kill() -> None:
        admin = make_engine(admin_url)
        try:
            while not stop.is_set():
                with admin.begin() as conn:
                    kills.append(int(conn.execute(query, {"v": value}).scalar_one()))
                stop.wait(random.uniform(*pause))
        finally:
            admin.dispose()

    killer = threading.Thread(target=kill, daemon=True)
    killer.start()
    try:
        yield kills
    finally:
        stop.set()
        killer.join(10)


def post_until_answered(
    client: httpx.Client, token: str, batch: list[dict[str, Any]], *, pause: float
) -> tuple[int, int]:
    """Send the same batch of events until the server answers it, as a player does (waiting `pause`
    seconds after a failure); the batch must come back whole (accepted or duplicates, none rejected).
    Returns (tries, failed answers): a refusal is a 500, 502 (from nginx) or 503, or no answer."""
    failures = 0
    for attempt in range(1, 200):
        try:
            resp = client.post(
                "/api/playback/events",
                json={"sent_at": datetime.now(UTC).isoformat(), "events": batch},
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError:
            failures += 1
            time.sleep(pause)
            continue
        if resp.status_code == 200:
            body = resp.json()
            assert not body["rejected"], body["rejected"]
            assert sorted(body["accepted"] + body["duplicates"]) == sorted(e["id"] for e in batch)
            return attempt, failures
        assert resp.status_code in (500, 502, 503), resp.text
        failures += 1
        time.sleep(pause)
    raise AssertionError("the server never answered the batch")
