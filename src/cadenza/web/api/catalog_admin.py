"""Catalog changes for administrators: take a track down and put it back, move it to another release,
delete it. Each route is one service call (`catalog.service`, `ingest.service.delete_track`), which
keeps the album loudness, the delivery cache, the search index and the store in step.

Refusals: 401 without a token, 403 for a listener, 404 for an unknown (or deleted) track, release or
artist, 409 when the track's state does not allow the change (taking down a track that is not ready,
reinstating one that is not taken down, deleting one still processing), 422 for a bad body."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cadenza.catalog import service
from cadenza.db.engine import transaction
from cadenza.ingest import service as ingest
from cadenza.web.api.catalog import TrackOut, tracks_out
from cadenza.web.deps import MAX_ID, AppState, Id, admin_router
from cadenza.web.validation import Name, text_type

router = admin_router(prefix="/api", tags=["catalog administration"])

_CHANGES = {
    404: {"description": "no such track (or release, artist)"},
    409: {"description": "the track's state does not allow this"},
    422: {"description": "the body or the id is not valid"},
}


class TakeDownIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: text_type(1000, free_text=True) = Field(
        description="why (a legal claim, a rights dispute): shown to administrators as the track's reason"
    )


class TrackMoveIn(BaseModel):
    """Either `release_id` (an existing release), or `release_title` (and optionally `artist_id`): the
    artist's release of that title, made if they have none (default artist: the track's first)."""

    model_config = ConfigDict(extra="forbid")

    release_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    release_title: Name | None = None
    artist_id: int | None = Field(default=None, ge=1, le=MAX_ID)

    @model_validator(mode="after")
    def _one_target(self) -> TrackMoveIn:
        if (self.release_id is None) == (self.release_title is None):
            raise ValueError("give either release_id or release_title")
        if self.artist_id is not None and self.release_title is None:
            raise ValueError("artist_id goes with release_title (a new release for that artist)")
        return self


@router.post("/tracks/{track_id}/take-down", response_model=TrackOut, responses=_CHANGES)
def take_down(track_id: Id, body: TakeDownIn, state: AppState) -> TrackOut:
    """Withdraw a ready track: no longer listed, found or played by listeners (playlists show it
    unavailable); its media are kept for `reinstate`."""
    with transaction(state.c.sessions) as s:
        track = service.take_down(s, track_id=track_id, reason=body.reason, caches=state.track_media)
        return tracks_out(s, [track])[0]


@router.post("/tracks/{track_id}/reinstate", response_model=TrackOut, responses=_CHANGES)
def reinstate(track_id: Id, state: AppState) -> TrackOut:
    """Put a taken-down track back, as it was."""
    with transaction(state.c.sessions) as s:
        track = service.reinstate(s, track_id=track_id, caches=state.track_media)
        return tracks_out(s, [track])[0]


@router.post("/tracks/{track_id}/move", response_model=TrackOut, responses=_CHANGES)
def move(track_id: Id, body: TrackMoveIn, state: AppState) -> TrackOut:
    """Put a track on another release; the album loudness of both releases is computed again."""
    with transaction(state.c.sessions) as s:
        if body.release_title is not None:
            track = service.move_track_to_new_release(
                s, track_id=track_id, title=body.release_title, artist_id=body.artist_id
            )
        else:
            track = service.move_track(s, track_id=track_id, release_id=body.release_id)
        return tracks_out(s, [track])[0]


@router.delete("/tracks/{track_id}", status_code=204, responses=_CHANGES)
def delete(track_id: Id, state: AppState) -> None:
    """Delete a track: its media leave the store; its play history, royalty lines (its rights end now)
    and playlist entries (unavailable) stay. Repeating it finishes a clean-up cut short."""
    ingest.delete_track(state.c, track_id=track_id, caches=state.track_media)
