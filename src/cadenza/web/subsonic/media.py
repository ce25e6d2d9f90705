"""Media methods: stream, download and getCoverArt, on the same rules as `web/api/stream.py`: the
territory from the client's address, the track's rights (`delivery.service`), the listener's tier. The
bytes are never served here: the answer is a 302 to a short-lived signed URL of a rendition made at
ingest (no transcoding at request time), which `web.media` (or nginx) serves with Range support.

`stream` picks, in this order: FLAC for `format=raw|flac` when the listener is on the hi-fi tier; the MP3
320 when the track's rights allow a progressive file (`authorize_stream` signs it only with a download
right); otherwise the HLS master playlist (clients built on ffmpeg/mpv/ExoPlayer play it). `maxBitRate`
below 320 cannot be honoured by a progressive file (AAC renditions exist only as HLS): it selects HLS.
Opening a stream does not count a play; plays are credited through the playback sessions."""

from __future__ import annotations

from fastapi.responses import RedirectResponse, Response

from cadenza.catalog import artwork
from cadenza.db.base import utcnow
from cadenza.db.engine import reading
from cadenza.delivery import service, signing
from cadenza.web.subsonic import ids
from cadenza.web.subsonic.envelope import NOT_FOUND, SubsonicError
from cadenza.web.subsonic.registry import Call, method

_NO_STORE = {"Cache-Control": "private, no-store"}


def _media(call: Call, track_id: int) -> service.TrackMedia | None:
    """The track's delivery facts from the stream path's cache, else read now (this runs in a worker
    thread, where waiting for the cache's batch loader would hold the thread as long)."""
    cache = call.state.track_media
    return cache.get(track_id) or cache.load_now([track_id]).get(track_id)


def _listener(call: Call) -> service.Listener:
    return service.Listener(call.principal.id, call.principal.tier)


@method("stream")
def stream(call: Call) -> Response:
    track_id = ids.parse(call.params.required("id"), ids.SONG)
    fmt = (call.params.text("format", max_length=10) or "").lower()
    max_rate = call.params.integer("maxBitRate", default=0, lo=0, hi=100_000) or 0
    state, settings = call.state, call.state.c.settings
    grant, _session = service.authorize_stream(
        _media(call, track_id),
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
        _media(call, track_id),
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
    with reading(call.state.c.sessions) as s:
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
