#!/usr/bin/env python3
"""A whole Cadenza cluster on loopback, for development, end-to-end tests and fault drills.

    .venv/bin/python deploy/cluster/cluster.py up --broker redis      # or rabbitmq; Ctrl-C stops it all

starts, each in its own process group with its own log under ROOT/logs/:

    s3              moto's S3 server (an S3-compatible object store; the bucket is made at start)
    api-1, api-2    `cadenza serve` (Granian), the API and the origin, on two ports
    worker-ingest   `cadenza worker -Q cadenza-ingest`   (the CPU-heavy pipeline: transcoding)
    worker-analysis `cadenza worker -Q cadenza-analysis` (reprocessing, rollups, clean-up, the reaper)
    beat            `cadenza beat` (schedules the maintenance tasks; exactly one per cluster)
    nginx           the edge and origin shield from deploy/nginx/, balancing over the API processes

on the engines already running on this machine: PostgreSQL (a database made per cluster and dropped at
the end) and Redis (a free numbered database, flushed at the end) or RabbitMQ (a virtual host per
cluster). No container runtime is assumed. docs/deployment.md maps each piece to its production
counterpart and lists the settings that change per tier.

Tests drive it as a library (tests/e2e/test_cluster.py): `Cluster(options).up()`, then `kill`, `stop`,
`start`, `pause`/`resume` single services to stage faults, and `down()`.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))  # the nginx renderer is shared with the edge's own tests

from e2e import nginx_fixture  # noqa: E402

Broker = Literal["redis", "rabbitmq"]
BUCKET = "cadenza"
INGEST_QUEUE = "cadenza-ingest"
ANALYSIS_QUEUE = "cadenza-analysis"


@dataclass
class Options:
    """What may differ between clusters; the defaults suit this machine's services."""

    root: Path
    broker: Broker = "redis"
    api_processes: int = 2
    pg_admin_url: str = os.environ.get("CADENZA_CLUSTER_PG", "postgresql://postgres@127.0.0.1:5432/test")
    redis_url: str = "redis://127.0.0.1:6379"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672"
    python: str = sys.executable
    # Faults are staged faster in tests: a stage never runs longer than this, a lost task is re-queued
    # after `stale_after_sec` by the reaper that beat runs every `reaper_every_sec`.
    stage_timeout_sec: float = 1800
    stale_after_sec: float | None = None
    reaper_every_sec: float = 60
    rollups_every_sec: float = 60
    worker_concurrency: int = 1
    # Run a Redis of the cluster's own (no persistence) instead of a database of the machine's: for
    # drills that restart the broker, which must not touch a Redis others use.
    own_redis: bool = False
    env: dict[str, str] = field(default_factory=dict)  # more CADENZA_* settings for every process


class Service:
    """One supervised process (group): started with its log, stopped with SIGTERM then SIGKILL."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        env: dict[str, str],
        log: Path,
        ready: Callable[[], bool],
        stop_timeout: float = 15.0,
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log = log
        self.ready = ready
        self.stop_timeout = stop_timeout
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} is not running"
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, *, timeout: float = 90.0) -> None:
        self.spawn()
        self.wait_ready(timeout=timeout)

    def spawn(self) -> None:
        if self.alive():
            return
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: children (pool, Granian workers) go with it
            )

    def wait_ready(self, *, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited at start:\n{self.tail()}")
            if self.ready():
                return
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready within {timeout} s:\n{self.tail()}")

    def signal(self, sig: int) -> None:
        """Send `sig` to the whole group (SIGKILL: the process and its children die at once)."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    def terminate(self) -> None:
        """Ask for a clean stop (SIGTERM), without waiting."""
        if self.alive():
            self.signal(signal.SIGCONT)  # a paused service cannot act on SIGTERM
            self.signal(signal.SIGTERM)

    def stop(self, *, timeout: float | None = None) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(self.stop_timeout if timeout is None else timeout)
        self.signal(signal.SIGKILL)  # stragglers of the group, even when the leader has exited
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def _free_port() -> int:
    return nginx_fixture.free_port()


def _http_ok(port: int, path: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", path)
            ok = conn.getresponse().status < 500
            conn.close()
            return ok
        except OSError:
            return False

    return check


def _log_says(log: Path, *needles: str) -> Callable[[], bool]:
    def check() -> bool:
        text = log.read_text(errors="replace") if log.exists() else ""
        return any(n in text for n in needles)

    return check


class Cluster:
    def __init__(self, options: Options) -> None:
        self.o = options
        self.root = options.root.resolve()
        self.id = uuid.uuid4().hex[:10]
        self.signing_keys = {"c1": secrets.token_urlsafe(24)}
        self.origin_secret = secrets.token_urlsafe(24)
        self.metrics_token = secrets.token_urlsafe(24)
        self.services: dict[str, Service] = {}
        self.edge: nginx_fixture.NginxProcess | None = None
        self.database = f"cz_{self.id}"
        self.database_url = ""
        self.broker_url = ""
        self._redis_db: int | None = None
        self._vhost: str | None = None
        self.s3_port = _free_port()
        self.redis_port = _free_port()
        self.api_ports = [_free_port() for _ in range(options.api_processes)]
        # Known before the API processes start: they read the edge's stub_status for /metrics.
        self.edge_port = _free_port()

    # --- where things are -------------------------------------------------------------------------

    @property
    def edge_url(self) -> str:
        assert self.edge is not None
        return self.edge.url

    @property
    def api_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.api_ports]

    @property
    def s3_url(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def env(self) -> dict[str, str]:
        """The environment of every Cadenza process: the production settings, pointed at loopback."""
        o = self.o
        env = {
            **os.environ,
            "CADENZA_ENV": "prod",
            "CADENZA_DATA_DIR": str(self.data_dir),
            "CADENZA_DATABASE_URL": self.database_url,
            "CADENZA_BROKER_URL": self.broker_url,
            "CADENZA_STORAGE__BACKEND": "s3",
            "CADENZA_STORAGE__S3_BUCKET": BUCKET,
            "CADENZA_STORAGE__S3_ENDPOINT_URL": self.s3_url,
            "CADENZA_STORAGE__S3_ACCESS_KEY_ID": "cluster",
            "CADENZA_STORAGE__S3_SECRET_ACCESS_KEY": "cluster",
            "CADENZA_SIGNING__KEYS": json.dumps(self.signing_keys),
            "CADENZA_SIGNING__ACTIVE_KEY": "c1",
            "CADENZA_DELIVERY__MODE": "x-accel",
            "CADENZA_DELIVERY__ORIGIN_SECRET": self.origin_secret,
            "CADENZA_DELIVERY__TRUSTED_PROXIES": '["127.0.0.1/32"]',
            "CADENZA_SUBSONIC__SECRET": secrets.token_urlsafe(24),
            # content keys of protected tracks are wrapped under this master key (docs/delivery.md)
            "CADENZA_PROTECTION__MASTER_KEYS": json.dumps(
                {"cluster": base64.b64encode(secrets.token_bytes(32)).decode()}
            ),
            "CADENZA_PROTECTION__ACTIVE_MASTER_KEY": "cluster",
            # Beat refreshes the rollups; the API processes leave them alone.
            "CADENZA_ROYALTIES__REFRESH_INTERVAL_SEC": "0",
            "CADENZA_OPS__JSON_LOGS": "true",
            "CADENZA_OPS__METRICS_TOKEN": self.metrics_token,
            "CADENZA_OPS__NGINX_STATUS_URL": f"http://127.0.0.1:{self.edge_port}/_edge/status",
            "CADENZA_OPS__REAPER_EVERY_SEC": str(o.reaper_every_sec),
            "CADENZA_OPS__ROLLUPS_EVERY_SEC": str(o.rollups_every_sec),
            "CADENZA_INGEST__STAGE_TIMEOUT_SEC": str(o.stage_timeout_sec),
            "PROMETHEUS_MULTIPROC_DIR": str(self.root / "metrics"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "PYTHONUNBUFFERED": "1",
        }
        if o.stale_after_sec is not None:
            env["CADENZA_OPS__STALE_AFTER_SEC"] = str(o.stale_after_sec)
        env.update(o.env)
        return env

    # --- provisioning -----------------------------------------------------------------------------

    def _make_database(self) -> None:
        from sqlalchemy import create_engine, make_url, text

        admin_url = make_url(self.o.pg_admin_url).set(drivername="postgresql+psycopg")
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.database}"'))
        admin.dispose()
        self.database_url = admin_url.set(database=self.database).render_as_string(hide_password=False)
        self.database_url = self.database_url.replace("postgresql+psycopg://", "postgresql://", 1)

    def _drop_database(self) -> None:
        from sqlalchemy import create_engine, make_url, text

        admin_url = make_url(self.o.pg_admin_url).set(drivername="postgresql+psycopg")
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
        admin.dispose()

    def _claim_broker(self) -> None:
        if self.o.own_redis:
            self.broker_url = f"redis://127.0.0.1:{self.redis_port}/0"
            return
        if self.o.broker == "redis":
            import redis

            dbs = list(range(1, 16))
            random.shuffle(dbs)
            for n in dbs:  # an empty numbered database, marked as ours so another cluster passes it by
                r = redis.Redis.from_url(f"{self.o.redis_url}/{n}")
                if r.dbsize() == 0 and r.set("cadenza-cluster", self.id, nx=True):
                    self._redis_db = n
                    self.broker_url = f"{self.o.redis_url}/{n}"
                    return
            raise RuntimeError("no empty Redis database (1-15) to use as the broker")
        self._vhost = f"cadenza-{self.id}"
        for argv in (
            ["rabbitmqctl", "-q", "add_vhost", self._vhost],
            ["rabbitmqctl", "-q", "set_permissions", "-p", self._vhost, "guest", ".*", ".*", ".*"],
        ):
            subprocess.run(argv, check=True, capture_output=True, timeout=60)
        self.broker_url = f"{self.o.amqp_url}/{self._vhost}"

    def _release_broker(self) -> None:
        if self._redis_db is not None:
            import redis

            redis.Redis.from_url(self.broker_url).flushdb()
        if self._vhost is not None:
            subprocess.run(
                ["rabbitmqctl", "-q", "delete_vhost", self._vhost], capture_output=True, timeout=60
            )

    def _make_bucket(self) -> None:
        import boto3

        boto3.client(
            "s3",
            endpoint_url=self.s3_url,
            region_name="us-east-1",
            aws_access_key_id="cluster",
            aws_secret_access_key="cluster",
        ).create_bucket(Bucket=BUCKET)

    # --- the processes ----------------------------------------------------------------------------

    def _cadenza(self, *args: str) -> list[str]:
        return [self.o.python, "-m", "cadenza.cli", *args]

    def _define(self) -> None:
        logs, env = self.root / "logs", self.env()

        def add(name: str, argv: list[str], ready: Callable[[], bool], stop_timeout: float = 15.0) -> None:
            self.services[name] = Service(
                name, argv, env=env, log=logs / f"{name}.log", ready=ready, stop_timeout=stop_timeout
            )

        if self.o.own_redis:
            argv = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port), "--save", "",
                    "--appendonly", "no", "--dir", str(self.root)]  # fmt: skip
            add("redis", argv, _log_says(logs / "redis.log", "Ready to accept connections"))
        add(
            "s3",
            [self.o.python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.s3_port)],
            _http_ok(self.s3_port, "/"),
        )
        for i, port in enumerate(self.api_ports, start=1):
            argv = self._cadenza("serve", "--host", "127.0.0.1", "--port", str(port))
            add(f"api-{i}", argv, _http_ok(port, "/healthz"))
        for name, queue in (("worker-ingest", INGEST_QUEUE), ("worker-analysis", ANALYSIS_QUEUE)):
            log = logs / f"{name}.log"
            argv = self._cadenza(
                "worker", "--queues", queue, "--concurrency", str(self.o.worker_concurrency), "--name", name
            )
            add(name, argv, _log_says(log, " ready."), stop_timeout=30.0)
        beat_log = logs / "beat.log"
        add("beat", self._cadenza("beat"), _log_says(beat_log, "beat: Starting", "Starting..."))

    def up(self) -> Cluster:
        """Provision, then start everything in dependency order; on any failure, undo what was done."""
        if self.root.exists():
            shutil.rmtree(self.root)
        (self.root / "metrics").mkdir(parents=True)
        try:
            self._make_database()
            self._claim_broker()
            self._define()
            if self.o.own_redis:
                self.services["redis"].start()
            self.services["s3"].start()
            self._make_bucket()
            migrate = subprocess.run(
                self._cadenza("migrate"), env=self.env(), capture_output=True, timeout=120
            )
            if migrate.returncode != 0:
                raise RuntimeError(f"migrations failed:\n{migrate.stdout.decode()}{migrate.stderr.decode()}")
            rest = [svc for name, svc in self.services.items() if name not in ("s3", "redis")]
            for svc in rest:  # side by side: each takes seconds to import and connect
                svc.spawn()
            for svc in rest:
                svc.wait_ready()
            self.edge = nginx_fixture.start_nginx(
                self.root / "nginx",
                upstream=self.api_urls,
                keys=self.signing_keys,
                origin_secret=self.origin_secret,
                port=self.edge_port,
                worker_processes=1,
            )
        except BaseException:
            self.down()
            raise
        return self

    def down(self) -> None:
        """Stop everything (edge first, store last) and remove the database and the broker namespace."""
        if self.edge is not None:
            self.edge.stop()
        # The API processes and beat, then the workers (they finish the task in hand), then the store.
        apis = [n for n in self.services if n.startswith("api-")] + ["beat"]
        for layer in (apis, ["worker-ingest", "worker-analysis"], ["s3", "redis"]):
            present = [self.services[n] for n in layer if n in self.services]
            for svc in present:
                svc.terminate()
            for svc in present:
                svc.stop()
        with contextlib.suppress(Exception):
            self._release_broker()
        with contextlib.suppress(Exception):
            self._drop_database()

    def __enter__(self) -> Cluster:
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.down()

    # --- faults -----------------------------------------------------------------------------------

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Kill a service's whole process group without ceremony (it stays down until `start`)."""
        svc = self.services[name]
        svc.signal(sig)
        if svc.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                svc.proc.wait(10)

    def stop(self, name: str) -> None:
        self.services[name].stop()

    def start(self, name: str) -> None:
        self.services[name].start()

    def pause(self, name: str) -> None:
        """SIGSTOP: the service holds its connections and answers nothing (a hung server)."""
        self.services[name].signal(signal.SIGSTOP)

    def resume(self, name: str) -> None:
        self.services[name].signal(signal.SIGCONT)

    def logs(self) -> Iterator[tuple[str, str]]:
        for name, svc in self.services.items():
            yield name, svc.tail()
        if self.edge is not None:
            yield "nginx", self.edge.error_log()[-4000:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a Cadenza cluster on loopback until interrupted.")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start everything; Ctrl-C (or SIGTERM) stops it all")
    up.add_argument("--broker", choices=["redis", "rabbitmq"], default="redis")
    up.add_argument("--root", type=Path, default=Path("/tmp/cadenza-cluster"))
    up.add_argument("--api-processes", type=int, default=2)
    args = parser.parse_args(argv)
    cluster = Cluster(Options(root=args.root, broker=args.broker, api_processes=args.api_processes))
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    cluster.up()
    try:
        print(f"edge (listeners):  {cluster.edge_url}")
        for url in cluster.api_urls:
            print(f"api:               {url}   (/healthz /readyz; /metrics with the token below)")
        print(f"s3:                {cluster.s3_url}   bucket {BUCKET}")
        print(f"database:          {cluster.database_url}")
        print(f"broker:            {cluster.broker_url}")
        print(f"metrics token:     {cluster.metrics_token}")
        print(f"logs:              {cluster.root / 'logs'}")
        print("environment for `cadenza` commands against this cluster:")
        for key, value in cluster.env().items():
            if (
                key.startswith("CADENZA_") or key == "PROMETHEUS_MULTIPROC_DIR"
            ):  # `cadenza import` reports there
                print(f"  export {key}='{value}'")
        while not stop:
            time.sleep(0.5)
            dead = [n for n, s in cluster.services.items() if not s.alive()]
            if dead:
                print(f"stopped unexpectedly: {', '.join(dead)}", file=sys.stderr)
                return 1
    finally:
        cluster.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
