"""The one settings object. Every value comes from a `CADENZA_*` environment variable (nested groups use
`__`, e.g. `CADENZA_LIMITS__MAX_UPLOAD_BYTES`), with defaults for the embedded single-machine setup."""

from __future__ import annotations

import secrets
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Limits(BaseModel):
    """What an upload may be."""

    max_upload_bytes: int = Field(default=2 * 1024**3, gt=0)
    max_duration_sec: float = Field(default=2 * 3600, gt=0)
    min_duration_sec: float = Field(default=1.0, ge=0)
    max_sample_rate: int = Field(default=384_000, gt=0)
    min_sample_rate: int = Field(default=8_000, gt=0)
    max_channels: int = Field(default=8, gt=0)


class Ingest(BaseModel):
    """How the pipeline encodes and analyses a track."""

    hls_segment_sec: float = Field(default=6.0, gt=0.5, le=30)
    aac_bitrates_kbps: list[int] = Field(default=[128, 256, 320], min_length=1)
    mp3_bitrate_kbps: int = Field(default=320, ge=32, le=320)
    waveform_pixels_per_second: int = Field(default=10, gt=0, le=1000)
    duplicate_threshold: float = Field(default=0.75, gt=0, le=1)
    workers: int = Field(default=2, ge=1, le=64)
    stage_timeout_sec: float = Field(default=1800, gt=0)


class Storage(BaseModel):
    """Where published media lives: a local directory or an S3-compatible bucket."""

    backend: Literal["local", "s3"] = "local"
    local_root: Path | None = None
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_prefix: str = ""

    @model_validator(mode="after")
    def _s3_needs_bucket(self) -> Storage:
        if self.backend == "s3" and not self.s3_bucket:
            raise ValueError("storage backend 's3' needs CADENZA_STORAGE__S3_BUCKET")
        return self


class Signing(BaseModel):
    """HMAC keys for signed media URLs: `keys` maps key id to secret; `active_key` signs new URLs."""

    keys: dict[str, str] = Field(default_factory=dict)
    active_key: str | None = None
    start_ttl_sec: int = Field(default=60, gt=0)
    bind_ip: bool = True


class Accounts(BaseModel):
    """Sessions and login protection."""

    token_ttl_hours: float = Field(default=24 * 7, gt=0)
    login_attempts_per_ip: int = Field(default=20, gt=0)
    login_attempts_per_account: int = Field(default=5, gt=0)
    login_window_sec: int = Field(default=300, gt=0)
    min_password_length: int = Field(default=8, ge=6)
    # A revoked token may keep working this long in another server process (this one forgets at once).
    token_cache_sec: float = Field(default=30, ge=0)


class Delivery(BaseModel):
    """How media bytes reach listeners."""

    # direct: Python serves the bytes (embedded default); x-accel: nginx serves them (production)
    mode: Literal["direct", "x-accel"] = "direct"
    manifest_max_age_sec: int = Field(default=10, ge=5, le=30)
    progressive_max_age_sec: int = Field(default=86400, ge=0)
    # Playback tokens last the track's duration times this factor plus the margin (pauses, slow starts).
    playback_ttl_factor: float = Field(default=2.0, ge=1.0)
    playback_ttl_margin_sec: int = Field(default=600, ge=0)
    origin_secret: str | None = None
    trusted_proxies: list[str] = Field(default_factory=list)
    # IP address or CIDR → ISO country code, checked before the bundled database (tests, private networks).
    geo_overrides: dict[str, str] = Field(default_factory=dict)
    # Track media facts and rights are cached this long per process on the stream path.
    track_cache_sec: float = Field(default=30, ge=0)
    # Web pages on these origins may call the API and read media (a player on another host, hls.js).
    # Credentials are bearer tokens and signed URLs, never cookies, so "*" lends a page nothing it does
    # not already hold. An empty list turns CORS off (same-origin pages only).
    cors_allow_origins: list[str] = Field(default_factory=lambda: ["*"])


class Royalties(BaseModel):
    """How plays become streams, and the limits on what a player may report."""

    # A session is one stream once its credited listening time reaches this (IFPI uses 30 s).
    stream_threshold_sec: float = Field(default=30.0, gt=0)
    # Counted streams per listener per track per UTC day; the rest are discarded (and listed).
    daily_cap_per_track: int = Field(default=10, ge=1)
    # Credited time may not run ahead of the wall clock since the session started times this rate ...
    max_playback_rate: float = Field(default=1.0, ge=1.0, le=4.0)
    # ... plus this much (heartbeat jitter between the audio clock and the wall clock).
    credit_tolerance_sec: float = Field(default=2.0, ge=0, le=60)
    # Credited time per session is at most the track's duration times this: a replay is a new session.
    duration_factor: float = Field(default=1.0, ge=1.0, le=10.0)
    # Events stamped this far after their batch was sent, or before their session started, are rejected.
    timestamp_tolerance_sec: float = Field(default=60.0, ge=0)
    # Events this long after their session started are rejected: the player must open a new session.
    max_session_hours: float = Field(default=24.0, gt=0, le=120)
    max_batch: int = Field(default=500, ge=1, le=5000)
    # How often a server's background refresher folds new events into the daily rollups (0: never).
    refresh_interval_sec: float = Field(default=60.0, ge=0)

    @cached_property
    def threshold_ms(self) -> int:
        return round(self.stream_threshold_sec * 1000)

    @cached_property
    def rate_permille(self) -> int:
        return round(self.max_playback_rate * 1000)

    @cached_property
    def tolerance_ms(self) -> int:
        return round(self.credit_tolerance_sec * 1000)

    @cached_property
    def timestamp_tolerance_ms(self) -> int:
        return round(self.timestamp_tolerance_sec * 1000)

    @cached_property
    def max_session_ms(self) -> int:
        return round(self.max_session_hours * 3_600_000)


class Subsonic(BaseModel):
    """The OpenSubsonic API at /rest/: app passwords are encrypted at rest under a key derived from
    `secret` (required in production; made once and kept in the data directory in dev and tests)."""

    secret: str | None = None
    # getNowPlaying lists what every listener is playing (by display name); false: only the caller's own
    share_now_playing: bool = True


class Ops(BaseModel):
    """Running Cadenza as a cluster: logs, metrics, and what Celery beat schedules (docs/deployment.md)."""

    # One JSON object per log line, with the request id (production); plain text otherwise.
    json_logs: bool = False
    # Bearer token Prometheus sends to scrape /metrics; unset, /metrics answers 404 (and nginx never
    # passes /metrics from outside: deploy/nginx/cadenza.conf).
    metrics_token: str | None = None
    # The edge's stub_status page (deploy/nginx/cadenza.conf: http://127.0.0.1:<port>/_edge/status), read
    # at each scrape into cadenza_nginx_* (telemetry/nginx.py); unset, nginx is not reported.
    nginx_status_url: str | None = None
    nginx_status_timeout_sec: float = Field(default=1.0, gt=0, le=10)
    # Celery beat: rollup refresh, leftovers clean-up, stale-track reaper (seconds between runs).
    rollups_every_sec: float = Field(default=60, gt=0)
    cleanup_every_sec: float = Field(default=600, gt=0)
    reaper_every_sec: float = Field(default=60, gt=0)
    # A track still `processing`, untouched this long while nothing waits in the ingest queue, lost its
    # task (a worker killed, a broker restarted without persistence): the reaper queues it again.
    # Default: twice the stage timeout (a stage never runs longer than that).
    stale_after_sec: float | None = Field(default=None, gt=0)
    # How long /readyz waits for each of the database, the store and the broker.
    ready_timeout_sec: float = Field(default=2.0, gt=0, le=30)


class Protection(BaseModel):
    """Content protection (protection/README in docs/delivery.md). Content keys are stored encrypted
    (AES-256-GCM) under a master key: `master_keys` maps key id to 32 bytes in base64, `active_master_key`
    wraps new keys; every listed key still unwraps, so the master rotates with `cadenza keys rewrap`.
    Required in production; in dev and tests one is made once and kept in the data directory."""

    master_keys: dict[str, str] = Field(default_factory=dict)
    active_master_key: str | None = None
    key_cache_sec: float = Field(default=60, ge=0, le=3600)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CADENZA_", env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    env: Literal["dev", "test", "prod"] = "dev"
    data_dir: Path = Path("data")
    database_url: str | None = None
    broker_url: str | None = None
    work_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, gt=0, lt=65536)
    demo: bool = False

    limits: Limits = Field(default_factory=Limits)
    ingest: Ingest = Field(default_factory=Ingest)
    storage: Storage = Field(default_factory=Storage)
    signing: Signing = Field(default_factory=Signing)
    accounts: Accounts = Field(default_factory=Accounts)
    delivery: Delivery = Field(default_factory=Delivery)
    royalties: Royalties = Field(default_factory=Royalties)
    subsonic: Subsonic = Field(default_factory=Subsonic)
    ops: Ops = Field(default_factory=Ops)
    protection: Protection = Field(default_factory=Protection)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("sqlite", "postgresql")):
            raise ValueError("database_url must be a sqlite:// or postgresql:// URL")
        return v

    @model_validator(mode="after")
    def _subsonic_secret_in_prod(self) -> Settings:
        if self.env == "prod" and not self.subsonic.secret:
            raise ValueError("CADENZA_SUBSONIC__SECRET must be set in production (it encrypts app passwords)")
        return self

    @model_validator(mode="after")
    def _derive_paths(self) -> Settings:
        self.data_dir = self.data_dir.expanduser().resolve()
        if self.database_url is None:
            self.database_url = f"sqlite:///{self.data_dir / 'cadenza.db'}"
        if self.database_url.startswith("postgresql://"):
            self.database_url = "postgresql+psycopg://" + self.database_url.removeprefix("postgresql://")
        if self.work_dir is None:
            self.work_dir = self.data_dir / "work"
        if self.storage.local_root is None:
            self.storage.local_root = self.data_dir / "media"
        return self

    @property
    def db_url(self) -> str:
        assert self.database_url is not None
        return self.database_url

    @property
    def stale_after_sec(self) -> float:
        return self.ops.stale_after_sec or 2 * self.ingest.stage_timeout_sec

    @property
    def work_path(self) -> Path:
        assert self.work_dir is not None
        return self.work_dir

    @property
    def uploads_path(self) -> Path:
        return self.data_dir / "uploads"

    def origin_secret(self) -> str:
        """The shared secret nginx sends to the origin endpoint; in dev one is made and kept."""
        if self.delivery.origin_secret:
            return self.delivery.origin_secret
        if self.env == "prod":
            raise ValueError("CADENZA_DELIVERY__ORIGIN_SECRET must be set in production")
        path = self.data_dir / "origin.secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32))
        return path.read_text().strip()

    def subsonic_secret(self) -> str:
        """The key material for Subsonic app passwords; in dev one is made once and kept."""
        if self.subsonic.secret:
            return self.subsonic.secret
        if self.env == "prod":
            raise ValueError("CADENZA_SUBSONIC__SECRET must be set in production")
        path = self.data_dir / "subsonic.secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32))
        return path.read_text().strip()

    def signing_keys(self) -> tuple[str, dict[str, str]]:
        """The active key id and all accepted keys; in dev a key is made once and kept in the data dir."""
        keys = dict(self.signing.keys)
        if not keys:
            if self.env == "prod":
                raise ValueError("CADENZA_SIGNING__KEYS must be set in production")
            key_file = self.data_dir / "signing.key"
            if not key_file.exists():
                key_file.parent.mkdir(parents=True, exist_ok=True)
                key_file.write_text(secrets.token_urlsafe(32))
            keys = {"dev": key_file.read_text().strip()}
        active = self.signing.active_key or sorted(keys)[0]
        if active not in keys:
            raise ValueError(f"signing active_key {active!r} is not among the keys")
        return active, keys

    def master_keys(self) -> tuple[str, dict[str, bytes]]:
        """The active master key id and every master key (32 bytes each) that may unwrap content keys."""
        import base64
        import binascii

        raw = dict(self.protection.master_keys)
        if not raw:
            if self.env == "prod":
                raise ValueError("CADENZA_PROTECTION__MASTER_KEYS must be set in production")
            key_file = self.data_dir / "protection.master.key"
            if not key_file.exists():
                key_file.parent.mkdir(parents=True, exist_ok=True)
                key_file.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
                key_file.chmod(0o600)
            raw = {"dev": key_file.read_text().strip()}
        keys: dict[str, bytes] = {}
        for kid, text in raw.items():
            try:
                keys[kid] = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ValueError(f"protection master key {kid!r} is not base64") from exc
            if len(keys[kid]) != 32:
                raise ValueError(f"protection master key {kid!r} must be 32 bytes (AES-256)")
        active = self.protection.active_master_key or sorted(keys)[0]
        if active not in keys:
            raise ValueError(f"protection active_master_key {active!r} is not among the master keys")
        return active, keys


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
