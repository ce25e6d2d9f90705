"""Content protection: the administrator's per-track policy and the Clear Key licence endpoint.

The licence route is on the click-to-first-audio path (the CDM asks for it before the first segment
decrypts), so it is declared like the stream route (`lean_route`): it reads its caller itself."""

from __future__ import annotations

import json
import logging

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from cadenza.db.base import utcnow
from cadenza.db.engine import transaction
from cadenza.delivery import service
from cadenza.protection import clearkey
from cadenza.protection import service as protection
from cadenza.web.deps import AdminUser, AppState, Id, admin_router, caller_of, lean_route, path_id
from cadenza.web.upload import read_body

router = APIRouter(prefix="/api/tracks", tags=["protection"])
admin = admin_router(prefix="/api/tracks", tags=["protection"])
issuance = logging.getLogger("cadenza.licences")


class PolicyIn(BaseModel):
    protected: bool = Field(description="deliver this track only as encrypted (cenc) CMAF segments")


class PolicyOut(BaseModel):
    track_id: int
    protected: bool
    published_protected: bool = Field(description="whether the media now published is the encrypted set")


@admin.put("/{track_id}/protection", response_model=PolicyOut)
async def set_protection(track_id: Id, body: PolicyIn, state: AppState, user: AdminUser) -> PolicyOut:
    """Protect (or unprotect) a track. Uploads after this are encrypted at ingest; media already
    published is re-packaged by `cadenza repackage` (no re-encode). Downloads and OpenSubsonic stop at
    once; until the repackage, the web player still plays the clear HLS/DASH."""
    with transaction(state.c.sessions) as s:
        protection.set_policy(
            s, track_id=track_id, protected=body.protected, by_user=user.id, caches=state.track_media
        )
    media = await state.track_media.get_async(track_id)
    return PolicyOut(
        track_id=track_id, protected=body.protected, published_protected=bool(media and media.protected)
    )


@admin.get("/{track_id}/protection", response_model=PolicyOut)
async def get_protection(track_id: Id, state: AppState) -> PolicyOut:
    with state.c.sessions() as s:
        protected = protection.is_protected(s, track_id=track_id)
    media = await state.track_media.get_async(track_id)
    return PolicyOut(
        track_id=track_id, protected=protected, published_protected=bool(media and media.protected)
    )


@router.post(
    "/{track_id}/licence",
    responses={
        200: {"description": "a W3C Clear Key licence: a JWK set of the requested keys of this track"},
        401: {"description": "no valid bearer token"},
        403: {"description": "no licence token, or one for another track, listener or address, or expired"},
        404: {"description": "no such ready, protected track, or none of the requested keys is its"},
        422: {"description": "not a Clear Key licence request"},
        451: {"description": "no live stream right in the listener's territory"},
    },
    openapi_extra={
        **lean_route("track_id"),
        "parameters": [
            *lean_route("track_id")["parameters"],
            {
                "name": "token",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "maxLength": 200},
            },
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["kids"],
                        "properties": {
                            "kids": {"type": "array", "items": {"type": "string"}},
                            "type": {"type": "string"},
                        },
                    }
                }
            },
        },
    },
)
async def licence(request: Request) -> Response:
    """The Clear Key licence exchange (W3C EME): `{"kids": [...]}` in, the keys out, never cached."""
    track_id = path_id(request, "track_id")
    caller = await caller_of(request)
    state, user, ip = caller.state, caller.user, caller.ip
    settings = state.c.settings
    territory = state.geo.territory(ip)
    media = service.authorize_licence(
        await state.track_media.get_async(track_id),
        track_id=track_id,
        listener=service.Listener(user.id, user.tier),
        token=request.query_params.get("token"),
        keyring=state.keyring,
        ip=ip if settings.signing.bind_ip else None,
        territory=territory,
        at=utcnow(),
    )
    kids = clearkey.parse_request(
        await read_body(request, limit=clearkey.MAX_REQUEST_BYTES, what="licence request")
    )
    keys = state.c.keys.licence_keys(track_id=media.id, kids=kids) if state.c.keys else {}
    if not keys:
        return _json(
            404, {"error": "not_found", "reason": "none of the requested keys belongs to this track"}
        )
    issuance.info(
        "licence issued: track=%s user=%s kids=%s ip=%s territory=%s",
        media.id,
        user.id,
        ",".join(k.hex() for k in keys),
        ip,
        territory,
    )
    return _json(200, clearkey.licence(keys))


def _json(status: int, body: object) -> Response:
    # A key must never sit in any cache, shared or private.
    return Response(
        content=json.dumps(body),
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )
