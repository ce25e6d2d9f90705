"""No endpoint answers 500 to any input: schemathesis generates requests from the OpenAPI schema."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from audio import make_audio
from cadenza.bootstrap import App, build_collaborators
from cadenza.db.engine import transaction
from cadenza.ingest.service import accept_upload
from cadenza.rights import service as rights
from cadenza.web.app import create_app
from conftest import InlineRunner, create_user, make_settings, make_test_engine


def _app(tmp: Path):  # type: ignore[no-untyped-def]
    engine, url, _ = make_test_engine("sqlite", tmp)
    c = build_collaborators(make_settings(tmp / "data", url), engine=engine, run_migrations=False)
    track = accept_upload(
        c, InlineRunner(c), path=make_audio(tmp / "a.flac", duration=4, seed=3), filename="a.flac"
    )
    with transaction(c.sessions) as s:
        rights.grant(s, track_id=track.id, right_type="stream")
    token = create_user(c.sessions, email="admin@example.org", role="admin", tier="hifi")
    return create_app(c.settings, wired=App(c=c, runner=InlineRunner(c))), token


_tmp = Path(tempfile.mkdtemp(prefix="cadenza-fuzz-"))
atexit.register(shutil.rmtree, _tmp, True)
APP, TOKEN = _app(_tmp)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_a_500(case: schemathesis.Case) -> None:
    response = case.call(headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} → {response.status_code}: {response.text}"
    )
    if response.status_code >= 400:
        body = response.json()
        assert body.get("error") and body.get("reason"), body
