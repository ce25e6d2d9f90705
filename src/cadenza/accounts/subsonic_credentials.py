"""Subsonic credentials: what a Subsonic client signs in with, made and revoked by the listener.

Cadenza keeps account passwords as Argon2 hashes, so the Subsonic token scheme (`t = md5(password +
salt)`) cannot be checked against them: the server would need the password itself. As LMS and Koel do,
each listener creates credentials for their apps instead, never the account password:

- an OpenSubsonic **API key** (`apiKey=`), random, stored as its SHA-256 like a bearer token: a database
  leak reveals no usable key;
- an **app password** for older clients (`u` + `t` + `s`, or `p=`/`p=enc:<hex>`), random, stored
  encrypted (Fernet: AES-128-CBC + HMAC-SHA256) under a key derived from `CADENZA_SUBSONIC__SECRET`,
  because the token check needs the plain value back. A leak of the database alone reveals nothing;
  both come back only once, when created.

One credential row holds both; revoking it (or deleting the user) ends both at once. Failed attempts
count against the same kind of database rate counters as the login route."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import ForeignKey, Index, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from cadenza.accounts import ratelimit
from cadenza.accounts.models import User
from cadenza.accounts.service import AuthError, Principal, RateLimited
from cadenza.config import Accounts
from cadenza.db.base import Base, BigId, UTCDateTime, utcnow
from cadenza.errors import InvalidInput, NotFound

MAX_PER_USER = 20
# Principals made from Subsonic credentials carry no token expiry of their own; this stands for "live".
_NO_EXPIRY = timedelta(days=365 * 100)


class SubsonicCredential(Base):
    __tablename__ = "subsonic_credentials"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(200))
    api_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    app_password_enc: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_subsonic_credentials_user_id", "user_id"),)


class WrongApiKey(AuthError):
    """An apiKey that is unknown or revoked (Subsonic error 44)."""


@dataclass(frozen=True)
class Issued:
    """A new credential: the secrets are shown this once."""

    id: int
    label: str
    api_key: str
    app_password: str
    username: str
    created_at: datetime


@dataclass(frozen=True)
class CredentialInfo:
    id: int
    label: str
    created_at: datetime


class Vault:
    """Encrypts and decrypts app passwords under the configured secret (any length: it is hashed into
    a Fernet key)."""

    def __init__(self, secret: str) -> None:
        key = base64.urlsafe_b64encode(hashlib.sha256(b"cadenza-subsonic\0" + secret.encode()).digest())
        self._fernet = Fernet(key)

    def seal(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def open(self, sealed: str) -> str | None:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except (InvalidToken, ValueError):
            return None  # made under another secret: unusable, like a revoked one


def _hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def _principal(user: User) -> Principal:
    return Principal(user.id, user.email, user.display_name, user.role, user.tier, utcnow() + _NO_EXPIRY)


def create(session: Session, *, user_id: int, label: str, vault: Vault) -> Issued:
    """A new API key and app password for the user's apps."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("no such user")
    live = session.scalars(
        select(SubsonicCredential.id).where(
            SubsonicCredential.user_id == user_id, SubsonicCredential.revoked_at.is_(None)
        )
    ).all()
    if len(live) >= MAX_PER_USER:
        raise InvalidInput(f"at most {MAX_PER_USER} Subsonic credentials; revoke one first")
    api_key = secrets.token_urlsafe(32)
    app_password = secrets.token_urlsafe(18)
    row = SubsonicCredential(
        user_id=user_id, label=label, api_key_hash=_hash(api_key), app_password_enc=vault.seal(app_password)
    )
    session.add(row)
    session.flush()
    return Issued(row.id, label, api_key, app_password, user.email, row.created_at)


def list_for(session: Session, *, user_id: int) -> list[CredentialInfo]:
    rows = session.scalars(
        select(SubsonicCredential)
        .where(SubsonicCredential.user_id == user_id, SubsonicCredential.revoked_at.is_(None))
        .order_by(SubsonicCredential.id)
    )
    return [CredentialInfo(r.id, r.label, r.created_at) for r in rows]


def revoke(session: Session, *, user_id: int, credential_id: int) -> None:
    done = session.execute(
        update(SubsonicCredential)
        .where(
            SubsonicCredential.id == credential_id,
            SubsonicCredential.user_id == user_id,
            SubsonicCredential.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    if done.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"Subsonic credential {credential_id} not found")


def _limited(session: Session, *, ip: str, username: str | None, cfg: Accounts) -> None:
    window = cfg.login_window_sec
    if ratelimit.current(session, key=f"subsonic-ip:{ip}", window_sec=window) >= cfg.login_attempts_per_ip:
        raise RateLimited("too many failed Subsonic sign-ins from this address; try again later", window)
    if username is not None and (
        ratelimit.current(session, key=f"subsonic-acct:{username}", window_sec=window)
        >= cfg.login_attempts_per_account
    ):
        raise RateLimited("too many failed Subsonic sign-ins for this account; try again later", window)


def _failed(session: Session, *, ip: str, username: str | None, cfg: Accounts) -> None:
    ratelimit.hit(session, key=f"subsonic-ip:{ip}", window_sec=cfg.login_window_sec)
    if username is not None:
        ratelimit.hit(session, key=f"subsonic-acct:{username}", window_sec=cfg.login_window_sec)


def by_api_key(session: Session, *, api_key: str, ip: str, cfg: Accounts) -> Principal:
    """The owner of a live API key; WrongApiKey (and a counted failure) otherwise. Commit even on failure."""
    _limited(session, ip=ip, username=None, cfg=cfg)
    row = session.execute(
        select(SubsonicCredential, User)
        .join(User, User.id == SubsonicCredential.user_id)
        .where(SubsonicCredential.api_key_hash == _hash(api_key), SubsonicCredential.revoked_at.is_(None))
    ).first()
    if row is None or len(api_key) > 200:
        _failed(session, ip=ip, username=None, cfg=cfg)
        raise WrongApiKey("the API key is not valid (unknown or revoked)")
    return _principal(row[1])


def by_password(
    session: Session,
    *,
    username: str,
    ip: str,
    cfg: Accounts,
    vault: Vault,
    password: str | None = None,
    token: str | None = None,
    salt: str | None = None,
) -> Principal:
    """The user whose app password matches: given plainly (`password`) or as `token` = md5(app password +
    `salt`); AuthError (and a counted failure) otherwise. The account password is never accepted here."""
    address = username.strip().lower()[:320]
    _limited(session, ip=ip, username=address, cfg=cfg)
    user = session.scalar(select(User).where(User.email == address))
    sealed = (
        session.scalars(
            select(SubsonicCredential.app_password_enc).where(
                SubsonicCredential.user_id == user.id, SubsonicCredential.revoked_at.is_(None)
            )
        ).all()
        if user is not None
        else []
    )
    for enc in sealed:
        plain = vault.open(enc)
        if plain is None:
            continue
        if password is not None and hmac.compare_digest(plain.encode(), password.encode()):
            return _principal(user)  # type: ignore[arg-type]
        if token is not None and salt is not None:
            expected = hashlib.md5((plain + salt).encode()).hexdigest()  # the protocol says md5
            if hmac.compare_digest(expected, token.lower()):
                return _principal(user)  # type: ignore[arg-type]
    _failed(session, ip=ip, username=address, cfg=cfg)
    raise AuthError("wrong username or app password (create an app password under /api/me/subsonic-keys)")
