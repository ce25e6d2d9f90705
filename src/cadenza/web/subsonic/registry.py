"""The Subsonic methods Cadenza answers: each a plain function from a `Call` to a body (or a Response, for
media), registered by name with `@method`. The router (`web.subsonic`) serves every registered method at
`/rest/<name>` and `/rest/<name>.view`, GET and POST."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi.responses import Response

from cadenza.accounts.models import Role
from cadenza.accounts.service import Principal
from cadenza.bootstrap import App
from cadenza.catalog.visibility import Viewer
from cadenza.web.subsonic.params import Params


@dataclass(frozen=True)
class Call:
    state: App
    params: Params
    ip: str
    user: Principal | None  # None only for the methods that need no authentication

    @property
    def principal(self) -> Principal:
        assert self.user is not None
        return self.user

    @property
    def viewer(self) -> Viewer:
        u = self.principal
        return Viewer(
            user_id=u.id, is_admin=u.role == Role.admin, territory=self.state.geo.territory(self.ip)
        )


Handler = Callable[[Call], "dict[str, Any] | Response"]


@dataclass(frozen=True)
class Method:
    name: str
    handler: Handler
    public: bool  # answers without authentication (getOpenSubsonicExtensions only)


METHODS: dict[str, Method] = {}


def method(name: str, *, public: bool = False) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        METHODS[name] = Method(name, fn, public)
        return fn

    return register
