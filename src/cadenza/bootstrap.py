"""Wires the database, storage and task runner: the only place that chooses implementations."""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network
from typing import Protocol

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from cadenza.accounts import service as accounts
from cadenza.accounts.service import Principal
from cadenza.accounts.subsonic_signins import SubsonicSignIns
from cadenza.cache import RefreshAhead
from cadenza.catalog.page_cursors import PageCursors
from cadenza.config import Settings
from cadenza.db import migrate
from cadenza.db.engine import engine_of, make_engine, make_session_factory
from cadenza.delivery.clientip import parse_trusted
from cadenza.delivery.service import TrackMedia, load_track_media
from cadenza.delivery.signing import Keyring
from cadenza.delivery.start import StartPiecesCache
from cadenza.ingest.leftovers import clean_leftovers
from cadenza.ingest.pipeline import Collaborators
from cadenza.protection.envelope import MasterKeys
from cadenza.protection.keys import LocalKeyProvider
from cadenza.rights.geo import GeoLookup
from cadenza.royalties.ingest import Ingestor, SessionDirectory
from cadenza.royalties.recorder import SessionRecorder
from cadenza.royalties.rollups import RollupRefresher
from cadenza.royalties.rules import Royalties, royalty_settings
from cadenza.search.sync import keep_in_step
from cadenza.storage.base import ObjectStore
from cadenza.storage.local import LocalStore

IPNetwork = IPv4Network | IPv6Network


class Runner(Protocol):
    def submit(self, track_id: int, *, start: str = "validate") -> object: ...

    def resume_interrupted(self) -> int: ...

    def shutdown(self, *, wait: bool = True) -> None: ...


def make_store(settings: Settings) -> ObjectStore:
    st = settings.storage
    if st.backend == "s3":
        from cadenza.storage.s3 import S3Store

        assert st.s3_bucket
        return S3Store(
            bucket=st.s3_bucket,
            prefix=st.s3_prefix,
            endpoint_url=st.s3_endpoint_url,
            region=st.s3_region,
            access_key_id=st.s3_access_key_id,
            secret_access_key=st.s3_secret_access_key,
        )
    assert st.local_root is not None
    return LocalStore(st.local_root)


def build_collaborators(
    settings: Settings, *, engine: Engine | None = None, run_migrations: bool = True
) -> Collaborators:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = engine or make_engine(settings.db_url)
    if run_migrations:
        migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    # Catalog edits made through the ORM (titles, credits, renames) reach the search index at commit.
    keep_in_step(sessions)
    return Collaborators(
        settings=settings,
        sessions=sessions,
        store=make_store(settings),
        keys=make_key_provider(settings, sessions),
    )


def make_key_provider(settings: Settings, sessions: sessionmaker[Session]) -> LocalKeyProvider:
    """Content keys: the local envelope provider (a CPIX multi-DRM provider would be chosen here)."""
    active, masters = settings.master_keys()
    return LocalKeyProvider(
        sessions, MasterKeys(active=active, keys=masters), cache_sec=settings.protection.key_cache_sec
    )


def make_runner(c: Collaborators) -> Runner:
    if c.settings.broker_url:
        from cadenza.ingest.queue import CeleryRunner

        return CeleryRunner()
    from cadenza.ingest.runner import InProcessRunner

    return InProcessRunner(c, workers=c.settings.ingest.workers)


@dataclass
class App:
    """Everything a process (web server, CLI) needs."""

    c: Collaborators
    runner: Runner
    keyring: Keyring = field(init=False)
    geo: GeoLookup = field(init=False)
    trusted_proxies: list[IPNetwork] = field(init=False)
    principals: RefreshAhead[str, Principal] = field(init=False)
    subsonic: SubsonicSignIns = field(init=False)
    page_cursors: PageCursors = field(init=False)
    track_media: RefreshAhead[int, TrackMedia] = field(init=False)
    start_pieces: StartPiecesCache = field(init=False)
    recorder: SessionRecorder = field(init=False)
    royalty_rules: Royalties = field(init=False)
    playback: Ingestor = field(init=False)
    rollups: RollupRefresher = field(init=False)

    def __post_init__(self) -> None:
        settings = self.c.settings
        active, keys = settings.signing_keys()
        self.keyring = Keyring(active=active, keys=keys)
        self.geo = GeoLookup(settings.delivery.geo_overrides)
        self.trusted_proxies = parse_trusted(settings.delivery.trusted_proxies)
        # gather: refreshes read in batches of what came due within a second (see cache.py)
        self.principals = RefreshAhead(
            maxsize=50_000,
            ttl=settings.accounts.token_cache_sec,
            load=self._load_principals,
            name="tokens",
            gather=1.0,
        )
        # The Subsonic surface's app-password cipher and remembered sign-ins: this app's own.
        self.subsonic = SubsonicSignIns(
            secret=settings.subsonic_secret(), ttl=settings.accounts.token_cache_sec
        )
        self.page_cursors = PageCursors()  # keyset continuation of offset-paged full syncs (Subsonic)
        self.track_media = RefreshAhead(
            maxsize=50_000,
            ttl=settings.delivery.track_cache_sec,
            load=self._load_track_media,
            name="tracks",
            gather=1.0,
        )
        # What a grant asked with `?inline=start` carries, read once per media version (delivery/start.py)
        self.start_pieces = StartPiecesCache(self.c.store)
        self.recorder = SessionRecorder(self.c.sessions)
        self.royalty_rules = royalty_settings(settings)
        # Playback event intake: an event may name a session the recorder has not written yet, so the
        # directory flushes the recorder before it decides that a session is unknown.
        directory = SessionDirectory(self.c.sessions, flush=lambda: self.recorder.flush())
        self.playback = Ingestor(self.c.sessions, self.royalty_rules, directory)
        # Started by the web server only (create_app); other processes leave the rollups to it.
        self.rollups = RollupRefresher(engine_of(self.c.sessions), rules=self.royalty_rules)

    def _load_principals(self, tokens: list[str]) -> dict[str, Principal]:
        with self.c.sessions() as s:  # revoked, expired or unknown tokens are left out: forgotten
            return accounts.principals_for_tokens(s, tokens=tokens)

    def _load_track_media(self, track_ids: list[int]) -> dict[int, TrackMedia]:
        with self.c.sessions() as s:
            return load_track_media(s, track_ids=track_ids)

    def readiness(self) -> dict[str, str | None]:
        """Whether this process can do its work now: the database, the object store and (in a cluster)
        the broker each answer within `ops.ready_timeout_sec`. Part → None if it answered, else why not.

        The checks run side by side in threads, so a part that hangs (an S3 server that stopped
        answering) costs the timeout once, not once per part; a check still hanging is left to finish."""
        settings = self.c.settings
        checks: dict[str, Callable[[], object]] = {
            "database": self._check_database,
            "storage": lambda: self.c.store.exists("readyz/probe"),
        }
        if settings.broker_url:
            checks["broker"] = self._check_broker
        pool = cf.ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="cadenza-readyz")
        futures = {name: pool.submit(check) for name, check in checks.items()}
        cf.wait(futures.values(), timeout=settings.ops.ready_timeout_sec)
        pool.shutdown(wait=False)
        out: dict[str, str | None] = {}
        for name, future in futures.items():
            if not future.done():
                out[name] = f"no answer within {settings.ops.ready_timeout_sec:g} s"
            elif (exc := future.exception()) is not None:
                out[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            else:
                out[name] = None
        return out

    def _check_database(self) -> None:
        with engine_of(self.c.sessions).connect() as conn:
            conn.execute(text("SELECT 1"))

    def _check_broker(self) -> None:
        from kombu import Connection

        timeout = self.c.settings.ops.ready_timeout_sec
        with Connection(self.c.settings.broker_url, connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)

    def close(self) -> None:
        self.principals.close()
        self.track_media.close()
        self.runner.shutdown(wait=False)
        self.recorder.close()
        self.rollups.close()


def bootstrap(settings: Settings, *, resume: bool = True) -> App:
    c = build_collaborators(settings)
    runner = make_runner(c)
    if resume:
        clean_leftovers(c)  # a crashed process's dead uploads and finished tracks' scratch directories
        runner.resume_interrupted()
    return App(c=c, runner=runner)
