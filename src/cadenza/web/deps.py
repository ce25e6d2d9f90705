"""FastAPI dependencies: the wired application from bootstrap."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from cadenza.bootstrap import App


def get_app_state(request: Request) -> App:
    app: App = request.app.state.cadenza
    return app


AppState = Annotated[App, Depends(get_app_state)]
