"""Who is calling: `apiKey` (OpenSubsonic), or `u` with `t`+`s` or `p` against an app password
(accounts.subsonic_credentials). Never the account password. Failures are counted (rate limits).

Every Subsonic call carries its credentials, so a successful check is remembered (`App.subsonic`, the
app's own `accounts.subsonic_signins.SubsonicSignIns`, which also holds the app-password cipher), keyed
by a hash of exactly what was sent; failures are never remembered: each one is counted."""

from __future__ import annotations

from cadenza.accounts import subsonic_credentials as credentials
from cadenza.accounts.service import AuthError, Principal, RateLimited
from cadenza.accounts.subsonic_signins import credential_key
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
    key = credential_key(api_key, user, token, salt, password)
    remembered = state.subsonic.recall(key)
    if remembered is not None:
        return remembered
    principal = _check(
        state, cfg, api_key=api_key, user=user, token=token, salt=salt, password=password, ip=ip
    )
    state.subsonic.remember(key, principal)
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
                vault=state.subsonic.vault,
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
