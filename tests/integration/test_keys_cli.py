"""`cadenza keys rewrap`, run as an operator runs it (the installed command, settings from the environment)
on SQLite and PostgreSQL: every content key moves to the new master key and still opens to the same
key; a dry run writes nothing; a stopped run is finished by running again; a missing or malformed new
key is refused before anything is written; keys the configuration cannot open are reported and left."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from cadenza.catalog.models import Track, TrackStatus
from cadenza.db.engine import make_session_factory, transaction
from cadenza.protection import envelope
from cadenza.protection.keys import LocalKeyProvider, rewrap_batches
from cadenza.protection.models import ContentKey

OLD, NEW, OLDER = bytes(range(32)), bytes(range(100, 132)), bytes(range(200, 232))


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def _made(engine: Engine, masters: envelope.MasterKeys, n: int) -> dict[int, tuple[bytes, bytes]]:
    """`n` tracks with a content key each, wrapped under `masters.active`: track id → (kid, key)."""
    sessions = make_session_factory(engine)
    with transaction(sessions) as s:
        tracks = [
            Track(title=f"T{i}", status=TrackStatus.ready, source_checksum=uuid.uuid4().hex) for i in range(n)
        ]
        s.add_all(tracks)
        s.flush()
        ids = [t.id for t in tracks]
    provider = LocalKeyProvider(sessions, masters, cache_sec=0)
    return {tid: (k.kid, k.key) for tid in ids for k in [provider.packaging_key(track_id=tid)]}


def _rows(engine: Engine) -> dict[int, tuple[str, bytes]]:
    with make_session_factory(engine)() as s:
        return {r.track_id: (r.master_key_id, r.wrapped) for r in s.scalars(select(ContentKey))}


def _opens(engine: Engine, masters: envelope.MasterKeys, made: dict[int, tuple[bytes, bytes]]) -> bool:
    provider = LocalKeyProvider(make_session_factory(engine), masters, cache_sec=0)
    return all(
        provider.licence_keys(track_id=tid, kids=[kid]) == {kid: key} for tid, (kid, key) in made.items()
    )


def _cadenza(
    db: tuple[Engine, str], tmp: Path, *args: str, keys: dict[str, str], active: str | None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CADENZA_DATA_DIR": str(tmp / "data"),
        "CADENZA_DATABASE_URL": db[1],
        "CADENZA_ENV": "test",
        "CADENZA_PROTECTION__MASTER_KEYS": json.dumps(keys),
        "COLUMNS": "200",
    }
    env.pop("CADENZA_BROKER_URL", None)
    env.pop("CADENZA_PROTECTION__ACTIVE_MASTER_KEY", None)
    if active is not None:
        env["CADENZA_PROTECTION__ACTIVE_MASTER_KEY"] = active
    cadenza = shutil.which("cadenza", path=str(Path(sys.executable).parent)) or "cadenza"
    return subprocess.run(
        [cadenza, "keys", "rewrap", *args], env=env, capture_output=True, text=True, check=False, timeout=120
    )


def test_rewrap_moves_every_key_to_the_new_master_and_each_still_opens(
    engine: Engine, db: tuple[Engine, str], tmp_path: Path
) -> None:
    made = _made(engine, envelope.MasterKeys(active="old", keys={"old": OLD}), 7)
    both = {"old": _b64(OLD), "new": _b64(NEW)}
    before = _rows(engine)

    dry = _cadenza(db, tmp_path, "--dry-run", "--batch", "3", keys=both, active="new")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "would re-wrap 7 content key(s) under 'new'; failed: 0" in dry.stdout
    assert "under 'old': 7 content key(s)" in dry.stdout
    assert _rows(engine) == before  # nothing written

    run = _cadenza(db, tmp_path, "--to", "new", "--batch", "3", keys=both, active="new")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "re-wrapped 7 content key(s) under 'new'; failed: 0" in run.stdout
    assert "no content key is wrapped under 'old' any more" in run.stdout
    after = _rows(engine)
    assert {m for m, _ in after.values()} == {"new"}
    assert all(after[t][1] != before[t][1] for t in made)  # a new nonce and ciphertext for each
    assert _opens(engine, envelope.MasterKeys(active="new", keys={"new": NEW}), made)  # old key gone

    again = _cadenza(db, tmp_path, keys=both, active="new")  # safe to re-run: nothing left to do
    assert again.returncode == 0 and "re-wrapped 0 content key(s)" in again.stdout
    assert _rows(engine) == after


def test_a_stopped_rotation_is_finished_by_running_it_again(
    engine: Engine, db: tuple[Engine, str], tmp_path: Path
) -> None:
    made = _made(engine, envelope.MasterKeys(active="old", keys={"old": OLD}), 5)
    made |= _made(engine, envelope.MasterKeys(active="older", keys={"older": OLDER}), 2)
    masters = envelope.MasterKeys(active="new", keys={"old": OLD, "new": NEW, "older": OLDER})
    steps = rewrap_batches(make_session_factory(engine), masters, batch=3)
    first = next(steps)  # one committed batch, then the run stops (as a killed process would)
    steps.close()
    assert first.rewrapped == 3 and not first.failed
    assert sorted(m for m, _ in _rows(engine).values()).count("new") == 3

    keys = {k: _b64(v) for k, v in masters.keys.items()}
    run = _cadenza(db, tmp_path, keys=keys, active="new")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "re-wrapped 4 content key(s) under 'new'" in run.stdout
    assert {m for m, _ in _rows(engine).values()} == {"new"}
    assert _opens(engine, envelope.MasterKeys(active="new", keys={"new": NEW}), made)


@pytest.mark.parametrize(
    ("keys", "active", "args", "says"),
    [
        ({"old": _b64(OLD)}, None, ["--to", "new"], "master key 'new' is not configured"),
        ({"old": _b64(OLD)}, "new", [], "'new' is not among the master keys"),
        ({"old": _b64(OLD), "new": "not base64!"}, "new", [], "master key 'new' is not base64"),
        ({"old": _b64(OLD), "new": _b64(NEW[:16])}, "new", [], "must be 32 bytes"),
        ({"old": _b64(OLD), "new": _b64(NEW)}, None, [], "none is named active"),
        ({"old": _b64(OLD), "new": _b64(NEW)}, "old", ["--to", "new"], "make 'new'"),
    ],
    ids=["unknown-to", "unknown-active", "not-base64", "short", "no-active", "not-active"],
)
def test_a_missing_or_malformed_new_key_is_refused_before_anything_is_written(
    engine: Engine,
    db: tuple[Engine, str],
    tmp_path: Path,
    keys: dict[str, str],
    active: str | None,
    args: list[str],
    says: str,
) -> None:
    _made(engine, envelope.MasterKeys(active="old", keys={"old": OLD}), 2)
    before = _rows(engine)
    run = _cadenza(db, tmp_path, *args, keys=keys, active=active)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "refused" in run.stdout and says in run.stdout, run.stdout
    assert "Traceback" not in run.stdout + run.stderr
    assert _rows(engine) == before


def test_keys_the_configuration_cannot_open_are_reported_and_left_as_they_were(
    engine: Engine, db: tuple[Engine, str], tmp_path: Path
) -> None:
    made = _made(engine, envelope.MasterKeys(active="old", keys={"old": OLD}), 3)
    before = _rows(engine)
    run = _cadenza(db, tmp_path, keys={"new": _b64(NEW)}, active="new")  # the old key removed too soon
    assert run.returncode == 1, run.stdout + run.stderr
    assert "re-wrapped 0 content key(s) under 'new'; failed: 3" in run.stdout
    assert "master key 'old' is not configured" in run.stdout and "Traceback" not in run.stderr
    assert _rows(engine) == before
    fixed = _cadenza(db, tmp_path, keys={"old": _b64(OLD), "new": _b64(NEW)}, active="new")
    assert fixed.returncode == 0 and "re-wrapped 3 content key(s)" in fixed.stdout
    assert _opens(engine, envelope.MasterKeys(active="new", keys={"new": NEW}), made)
