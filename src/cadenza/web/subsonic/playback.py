"""OpenSubsonic `reportPlayback` (extension `playbackReport`): a client's playback state and position,
credited into the same playback sessions as the web player's heartbeats (`royalties.scrobbles`
turns a report into an event; `royalties.ingest` and the counting rules decide what it is worth)."""

from __future__ import annotations

import logging
from typing import Any

from cadenza.catalog import browse
from cadenza.db.base import utcnow
from cadenza.db.engine import reading
from cadenza.royalties import scrobbles
from cadenza.web.subsonic import ids
from cadenza.web.subsonic.envelope import MISSING_PARAMETER, NOT_FOUND, SubsonicError
from cadenza.web.subsonic.registry import Call, method

log = logging.getLogger(__name__)

MAX_RATE = 16.0


def _rate(raw: str | None) -> float:
    if raw is None or raw == "":
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= MAX_RATE:  # also refuses nan and inf
        raise SubsonicError(
            MISSING_PARAMETER, f"parameter 'playbackRate' must be above 0 and at most {MAX_RATE}"
        )
    return value


@method("reportPlayback")
def report_playback(call: Call) -> dict[str, Any]:
    """A report on the listener's latest session of the song (opened by `stream`); without one (a file
    played offline) it credits nothing. `ignoreScrobble=true` records nothing: Cadenza's now-playing
    comes from the stream itself."""
    p = call.params
    track_id = ids.parse(p.required("mediaId", max_length=30), ids.SONG)
    media_type = p.required("mediaType", max_length=20)
    if media_type != "song":
        raise SubsonicError(NOT_FOUND, "only songs can be reported (Cadenza has no podcasts)")
    position = p.integer("positionMs", lo=0, hi=7 * 24 * 3600 * 1000)
    if position is None:
        raise SubsonicError(MISSING_PARAMETER, "required parameter 'positionMs' is missing")
    state = p.required("state", max_length=20)
    if state not in scrobbles.REPORT_KINDS:
        raise SubsonicError(
            MISSING_PARAMETER, f"parameter 'state' must be one of {', '.join(scrobbles.REPORT_KINDS)}"
        )
    rate = _rate(p.text("playbackRate", max_length=20))
    if p.flag("ignoreScrobble"):
        return {}
    app, at = call.state, utcnow()
    app.recorder.flush()  # the session `stream` opened may still be in the recorder's buffer
    with reading(app.c.sessions) as s:
        if not browse.songs(s, viewer=call.viewer, track_ids=[track_id]):
            raise SubsonicError(NOT_FOUND, "song not found")
        since = scrobbles.window(app.c.settings.royalties.max_session_hours, at)
        found = scrobbles.latest_session(s, user_id=call.principal.id, track_id=track_id, since=since)
        if found is None:
            return {}
        session_id, started_at = found
        previous = scrobbles.last_report(s, session_id=session_id)
    event = scrobbles.report_event(
        session_id, started_at=started_at, previous=previous, state=state, position_ms=position,
        playback_rate=rate, at=at,
    )  # fmt: skip
    result = app.playback.ingest({"events": [event]}, user_id=call.principal.id)
    if result.rejected:
        log.info("reportPlayback event rejected: %s", result.rejected)
    return {}
