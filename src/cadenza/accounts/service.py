"""Accounts: registration, login with rate limits, bearer tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cadenza.accounts import passwords, ratelimit
from cadenza.accounts.models import AuthToken, Role, Tier, User
from cadenza.config import Accounts
from cadenza.db.base import utcnow
from cadenza.errors import CadenzaError, InvalidInput

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


class AuthError(CadenzaError):
    """Wrong credentials, or a missing, expired or revoked token."""


class RateLimited(CadenzaError):
    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Principal:
    """Who a token belongs to: what request handlers need, cacheable (no database session attached)."""

    id: int
    email: str
    display_name: str
    role: Role
    tier: Tier
    token_expires_at: datetime


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_email(email: str) -> str:
    value = email.strip().lower()
    if len(value) > 320 or not _EMAIL.match(value):
        raise InvalidInput("email address is not valid")
    return value


def register(
    session: Session,
    *,
    email: str,
    password: str,
    display_name: str | None,
    cfg: Accounts,
    role: Role = Role.listener,
    tier: Tier = Tier.free,
) -> User:
    address = normalize_email(email)
    if len(password) < cfg.min_password_length:
        raise InvalidInput(f"password must have at least {cfg.min_password_length} characters")
    if len(password) > 1024:
        raise InvalidInput("password is too long")
    if session.scalar(select(User.id).where(User.email == address)) is not None:
        raise InvalidInput("an account with this email address already exists")
    name = " ".join((display_name or address.split("@")[0]).split())[:200]
    user = User(
        email=address,
        display_name=name,
        password_hash=passwords.hash_password(password),
        role=role,
        tier=tier,
    )
    session.add(user)
    session.flush()
    return user


def get_user_by_email(session: Session, *, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def login(session: Session, *, email: str, password: str, ip: str, cfg: Accounts) -> tuple[User, IssuedToken]:
    """Check credentials under per-IP and per-account limits; issue a token. Raises AuthError/RateLimited."""
    window = cfg.login_window_sec
    address = email.strip().lower()[:320]
    if ratelimit.hit(session, key=f"login-ip:{ip}", window_sec=window) > cfg.login_attempts_per_ip:
        raise RateLimited("too many login attempts from this address; try again later", window)
    if (
        ratelimit.current(session, key=f"login-acct:{address}", window_sec=window)
        >= cfg.login_attempts_per_account
    ):
        raise RateLimited("too many failed logins for this account; try again later", window)
    user = get_user_by_email(session, email=address)
    if not passwords.verify_password(user.password_hash if user else None, password) or user is None:
        ratelimit.hit(session, key=f"login-acct:{address}", window_sec=window)
        raise AuthError("wrong email or password")
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user, issue_token(session, user=user, ttl=timedelta(hours=cfg.token_ttl_hours))


def issue_token(session: Session, *, user: User, ttl: timedelta) -> IssuedToken:
    token = secrets.token_urlsafe(32)
    expires = utcnow() + ttl
    session.add(AuthToken(user_id=user.id, token_hash=_token_hash(token), expires_at=expires))
    session.flush()
    return IssuedToken(token=token, expires_at=expires)


def principals_for_tokens(session: Session, *, tokens: list[str]) -> dict[str, Principal]:
    """The principals of those tokens that are live (malformed, unknown, revoked, expired: left out), in
    one query for the whole batch."""
    by_hash = {_token_hash(t): t for t in tokens if t and len(t) <= 200}
    if not by_hash:
        return {}
    now = utcnow()
    rows = session.execute(
        select(
            AuthToken.token_hash, User.id, User.email, User.display_name, User.role, User.tier,
            AuthToken.expires_at,
        )
        .join(AuthToken, AuthToken.user_id == User.id)
        .where(AuthToken.token_hash.in_(list(by_hash)), AuthToken.revoked_at.is_(None))
    )  # fmt: skip
    return {
        by_hash[r.token_hash]: Principal(r.id, r.email, r.display_name, r.role, r.tier, r.expires_at)
        for r in rows
        if r.expires_at > now
    }


def user_for_token(session: Session, *, token: str) -> User:
    """The user a live token belongs to; AuthError otherwise."""
    if not token or len(token) > 200:
        raise AuthError("missing or malformed token")
    row = session.scalar(select(AuthToken).where(AuthToken.token_hash == _token_hash(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        raise AuthError("token is invalid or expired")
    user = session.get(User, row.user_id)
    if user is None:
        raise AuthError("token is invalid or expired")
    return user


def revoke_token(session: Session, *, token: str) -> None:
    session.execute(
        update(AuthToken)
        .where(AuthToken.token_hash == _token_hash(token), AuthToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
