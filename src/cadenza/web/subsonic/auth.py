"""Who is calling: `apiKey` (OpenSubsonic), or `u` with `t`+`s` or `p` against an app password
(accounts.subsonic_credentials). Never the account password. Failures are counted (rate limits).

Every Subsonic call carries its credentials, so a successful check is remembered for
`accounts.token_cache_sec` (as bearer tokens are, `App.principals`), keyed by a hash of exactly what was
sent (`apiKey`, or `u`+`t`+`s`, or `u`+`p`); a revocation through this process forgets the user's entries
at once, elsewhere within that time. Failures are never remembered: each one is counted."""

from __future__ import annotations

import hashlib
import threading
import time

from cadenza.accounts import subsonic_credentials as credentials
from cadenza.accounts.service import AuthError, Principal, RateLimited
from cadenza.bootstrap import App
from cadenza.config import Accounts
from cadenza.web.subsonic.envelope import (
    CONFLICTING_AUTH,
    INVALID_API_KEY,
    MISSING_PARAMETER,
    WRONG_CREDENTIALS,
    SubsonicError,
)
from cadenza.web.subsonic.params import Params

_vaults: dict[str, credentials.Vault] = {}
_MAX_REMEMBERED = 50_000
_remembered: dict[str, tuple[Principal, float]] = {}
_lock = threading.Lock()


def _recall(key: str) -> Principal | None:
    with _lock:
        found = _remembered.get(key)
        if found is None:
            return None
        if found[1] <= time.monotonic():
            del _remembered[key]
            return None
        return found[0]


def _remember(key: str, principal: Principal, ttl: float) -> None:
    if ttl <= 0:
        return
    with _lock:
        if len(_remembered) >= _MAX_REMEMBERED:
            _remembered.clear()
        _remembered[key] = (principal, time.monotonic() + ttl)


def forget_user(user_id: int) -> None:
    """Drop what this process remembers of the user's credentials (after a revocation)."""
    with _lock:
        for key in [k for k, (p, _) in _remembered.items() if p.id == user_id]:
            del _remembered[key]


def vault_of(state: App) -> credentials.Vault:
    secret = state.c.settings.subsonic_secret()
    vault = _vaults.get(secret)
    if vault is None:
        vault = _vaults[secret] = credentials.Vault(secret)
    return vault


def _password(raw: str) -> str:
    """`p` as sent: plain, or `enc:` and the UTF-8 bytes in hex."""
    if not raw.startswith("enc:"):
        return raw
    try:
        return bytes.fromhex(raw[4:]).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise SubsonicError(WRONG_CREDENTIALS, "parameter 'p' is not valid enc: hex") from exc


def authenticate(state: App, params: Params, *, ip: str) -> Principal:
    api_key = params.text("apiKey", max_length=200)
    user = params.text("u", max_length=320)
    token, salt, password = (
        params.text("t", max_length=64),
        params.text("s", max_length=200),
        params.text("p"),
    )
    cfg = state.c.settings.accounts
    if api_key is not None:
        if user is not None or token is not None or password is not None:
            raise SubsonicError(CONFLICTING_AUTH, "send either apiKey or u with t+s/p, not both")
    elif not user:
        raise SubsonicError(MISSING_PARAMETER, "required parameter 'u' (or 'apiKey') is missing")
    elif not (token and salt) and password is None:
        raise SubsonicError(MISSING_PARAMETER, "send 't' and 's', or 'p', with 'u'")
    sent = "\0".join(v or "" for v in (api_key, user, token, salt, password))
    key = hashlib.sha256(sent.encode("utf-8", "surrogatepass")).hexdigest()
    remembered = _recall(key)
    if remembered is not None:
        return remembered
    principal = _check(
        state, cfg, api_key=api_key, user=user, token=token, salt=salt, password=password, ip=ip
    )
    _remember(key, principal, cfg.token_cache_sec)
    return principal


def _check(
    state: App,
    cfg: Accounts,
    *,
    api_key: str | None,
    user: str | None,
    token: str | None,
    salt: str | None,
    password: str | None,
    ip: str,
) -> Principal:
    with state.c.sessions() as s:
        try:
            if api_key is not None:
                return credentials.by_api_key(s, api_key=api_key, ip=ip, cfg=cfg)
            assert user is not None
            return credentials.by_password(
                s,
                username=user,
                ip=ip,
                cfg=cfg,
                vault=vault_of(state),
                password=_password(password) if password is not None else None,
                token=token,
                salt=salt,
            )
        except credentials.WrongApiKey as exc:
            raise SubsonicError(INVALID_API_KEY, exc.reason) from exc
        except (AuthError, RateLimited) as exc:
            raise SubsonicError(WRONG_CREDENTIALS, exc.reason) from exc
        finally:
            s.commit()  # failure counters are kept even when the attempt fails
