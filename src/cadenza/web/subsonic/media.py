"""Media methods: stream, download and getCoverArt, on the same rules as `web/api/stream.py`: the
territory from the client's address, the track's rights (`delivery.service`), the listener's tier. The
bytes are never served here: the answer is a 302 to a short-lived signed URL of a rendition made at
ingest (no transcoding at request time), which `web.media` (or nginx) serves with Range support.

`stream` picks, in this order: FLAC for `format=raw|flac` when the listener is on the hi-fi tier; the MP3
320 when the track's rights allow a progressive file (`authorize_stream` signs it only with a download
right); otherwise the HLS master playlist (clients built on ffmpeg/mpv/ExoPlayer play it). `maxBitRate`
below 320 cannot be honoured by a progressive file (AAC renditions exist only as HLS): it selects HLS.
Opening a stream does not count a play: it opens a playback session, which `scrobble` credits under the
counting rules (`royalties.scrobbles`).

A protected track (`TrackMedia.withheld`: encrypted, or protected by an administrator and not yet
repackaged) is refused by `stream` and `download` with error 50 and a message naming the web player:
a Subsonic app can neither fetch a Clear Key licence nor decrypt `cenc` segments, and it must never be
handed a clear file. `getSong` and the lists keep showing it."""

from __future__ import annotations

import logging

from fastapi.responses import RedirectResponse, Response

from cadenza.catalog import artwork, browse
from cadenza.db.base import utcnow
from cadenza.db.engine import reading
from cadenza.delivery import service, signing
from cadenza.royalties import scrobbles
from cadenza.web.subsonic import ids
from cadenza.web.subsonic.envelope import MISSING_PARAMETER, NOT_AUTHORIZED, NOT_FOUND, SubsonicError
from cadenza.web.subsonic.registry import Call, method

log = logging.getLogger(__name__)

_NO_STORE = {"Cache-Control": "private, no-store"}


def _media(call: Call, track_id: int) -> service.TrackMedia | None:
    """The track's delivery facts from the stream path's cache, else read now (this runs in a worker
    thread, where waiting for the cache's batch loader would hold the thread as long)."""
    cache = call.state.track_media
    return cache.get(track_id) or cache.load_now([track_id]).get(track_id)


PROTECTED = (
    "this track is protected (encrypted, with a Clear Key licence): Subsonic apps cannot play or "
    "download it; play it in Cadenza's web player"
)


def _playable_media(call: Call, track_id: int) -> service.TrackMedia | None:
    """The track's media, refused with error 50 when protected (before any session or URL is made)."""
    media = _media(call, track_id)
    if media is not None and media.withheld:
        raise SubsonicError(NOT_AUTHORIZED, PROTECTED)
    return media


def _listener(call: Call) -> service.Listener:
    return service.Listener(call.principal.id, call.principal.tier)


@method("stream")
def stream(call: Call) -> Response:
    track_id = ids.parse(call.params.required("id"), ids.SONG)
    fmt = (call.params.text("format", max_length=10) or "").lower()
    max_rate = call.params.integer("maxBitRate", default=0, lo=0, hi=100_000) or 0
    state, settings = call.state, call.state.c.settings
    grant, playback = service.authorize_stream(
        _playable_media(call, track_id),
        track_id=track_id,
        listener=_listener(call),
        ip=call.ip,
        territory=state.geo.territory(call.ip),
        keyring=state.keyring,
        start_ttl=settings.signing.start_ttl_sec,
        cfg=settings.delivery,
        at=utcnow(),
        bind_ip=settings.signing.bind_ip,
    )
    state.recorder.record(playback)  # a session with no listening yet: `scrobble` credits it
    if fmt in ("raw", "flac") and grant.flac_url:
        url = grant.flac_url
    elif grant.mp3_url and (max_rate == 0 or max_rate >= 320):
        url = grant.mp3_url
    else:
        url = grant.hls_url
    return RedirectResponse(url, status_code=302, headers=_NO_STORE)


@method("download")
def download(call: Call) -> Response:
    track_id = ids.parse(call.params.required("id"), ids.SONG)
    state, settings = call.state, call.state.c.settings
    key = service.authorize_download(
        _playable_media(call, track_id),
        track_id=track_id,
        listener=_listener(call),
        territory=state.geo.territory(call.ip),
        quality="mp3_320",
        at=utcnow(),
    )
    if settings.delivery.mode == "x-accel":
        return Response(
            headers={
                "X-Accel-Redirect": f"/_accel/{key}",
                "Content-Disposition": f'attachment; filename="track-{track_id}.mp3"',
                **_NO_STORE,
            }
        )
    path = signing.signed_path(
        state.keyring,
        key=key,
        depth=0,
        ttl=settings.signing.start_ttl_sec,
        ip=call.ip if settings.signing.bind_ip else None,
    )
    return RedirectResponse(path, status_code=302, headers=_NO_STORE)


@method("getCoverArt")
def get_cover_art(call: Call) -> Response:
    """A redirect to the rendered JPEG nearest `size` (the smallest box at least that large, else the
    largest); the images are public and content-hashed (`/api/artwork/...`)."""
    kind, number = ids.split(call.params.required("id"))
    size = call.params.integer("size", default=None, lo=1, hi=10_000)
    viewer = call.viewer
    with reading(call.state.c.sessions) as s:
        visible = {  # only what the caller may see (`catalog.visibility`), as every other method
            ids.SONG: lambda: browse.songs(s, viewer=viewer, track_ids=[number]),
            ids.ALBUM: lambda: browse.releases(s, viewer=viewer, release_ids=[number]),
            ids.ARTIST: lambda: browse.artists(s, viewer=viewer, artist_ids=[number]),
        }.get(kind, list)()
        if not visible:
            raise SubsonicError(NOT_FOUND, "no such item")
        ref = {
            ids.SONG: lambda: artwork.for_track(s, track_id=number),
            ids.ALBUM: lambda: artwork.for_release(s, release_id=number),
            ids.ARTIST: lambda: artwork.for_artist(s, artist_id=number),
        }.get(kind, lambda: None)()
    if ref is None or not ref.jpeg:
        raise SubsonicError(NOT_FOUND, "no cover art for this id")
    boxes = sorted(int(b) for b in ref.jpeg)
    box = boxes[-1] if size is None else next((b for b in boxes if b >= size), boxes[-1])
    return RedirectResponse(
        ref.jpeg[str(box)], status_code=302, headers={"Cache-Control": "private, max-age=3600"}
    )


@method("scrobble")
def scrobble(call: Call) -> dict[str, object]:
    """`submission=false` (now playing) records nothing beyond the session `stream` opened; a submission
    credits the latest session of each song (`royalties.scrobbles`: never more than wall time since the
    stream started)."""
    p = call.params
    track_ids = [ids.parse(v, ids.SONG) for v in p.all("id")]
    if not track_ids:
        raise SubsonicError(MISSING_PARAMETER, "required parameter 'id' is missing")
    p.all("time", max_length=20)  # when the client played it: read under the text rule, not trusted
    if not p.flag("submission", default=True):
        return {}
    state, at = call.state, utcnow()
    state.recorder.flush()  # the session `stream` opened may still be in the recorder's buffer
    events = []
    with reading(state.c.sessions) as s:
        since = scrobbles.window(state.c.settings.royalties.max_session_hours, at)
        for track_id in track_ids:
            media = _media(call, track_id)
            if media is None:
                raise SubsonicError(NOT_FOUND, "song not found")
            found = scrobbles.latest_session(s, user_id=call.principal.id, track_id=track_id, since=since)
            if found is not None:
                session_id, started_at = found
                events.append(
                    scrobbles.scrobble_event(
                        session_id,
                        started_at=started_at,
                        duration_sec=media.duration_sec,
                        at=at,
                        max_rate=state.c.settings.royalties.max_playback_rate,
                    )
                )
    if events:
        result = state.playback.ingest({"events": events}, user_id=call.principal.id)
        if result.rejected:
            log.warning("scrobble events rejected: %s", result.rejected)
    return {}
