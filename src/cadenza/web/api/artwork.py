"""HTTP for cover art: an administrator sets a release's picture; anyone fetches the rendered variants.

The rules (what image is accepted, the sizes, the storage layout, the URLs) are in catalog/artwork.py."""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from cadenza.catalog import artwork
from cadenza.delivery import ranges
from cadenza.errors import NotFound
from cadenza.storage import mediatypes
from cadenza.storage.base import ObjectStore
from cadenza.web.deps import AppState, Id, admin_router, public_router
from cadenza.web.upload import read_body, receive_upload

router = admin_router(tags=["artwork"])
public = public_router(tags=["artwork"])


class ArtworkOut(BaseModel):
    """A picture in an API answer: WebP URLs by box size in `urls`, JPEG ones in `jpeg`."""

    id: int = Field(description="the artwork's id (one per distinct image)")
    width: int = Field(description="the original's width in pixels, as displayed")
    height: int = Field(description="the original's height in pixels, as displayed")
    urls: dict[str, str] = Field(description="WebP URL by box size (64, 300, 600, 1200; only those rendered)")
    jpeg: dict[str, str] = Field(description="JPEG URL by box size, for clients without WebP")

    @classmethod
    def of(cls, ref: artwork.ArtworkRef) -> ArtworkOut:
        return cls(id=ref.id, width=ref.width, height=ref.height, urls=ref.urls, jpeg=ref.jpeg)


async def _image_body(request: Request, state: AppState) -> bytes:
    """The image from a multipart `file` part or from the raw body; cut off at the size limit (413)."""
    limit = artwork.MAX_INPUT_BYTES
    if request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        received = await receive_upload(request, dest=state.c.settings.uploads_path, limit=limit)
        try:
            assert received.path is not None
            return await run_in_threadpool(received.path.read_bytes)
        finally:
            received.discard()
    return await read_body(request, limit=limit, what="image")


_BINARY = {"type": "string", "format": "binary"}
_IMAGE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "image/*": {"schema": _BINARY},
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": _BINARY}, "required": ["file"]}
            },
        },
    }
}


@router.put(
    "/api/releases/{release_id}/artwork",
    response_model=ArtworkOut,
    openapi_extra=_IMAGE_BODY,
    responses={404: {"description": "no such release"}, 413: {"description": "over 20 MB"}},
)
async def put_release_artwork(request: Request, release_id: Id, state: AppState) -> ArtworkOut:
    """Set a release's cover (administrators). The body is the image itself (any content type) or a
    multipart form with a `file` part; JPEG, PNG, WebP, GIF (first frame) or BMP, up to 20 MB. A refused
    image is a 422 with the reason, and then nothing is stored or changed."""
    data = await _image_body(request, state)
    ref = await run_in_threadpool(
        artwork.upload_release_artwork,
        state.c.sessions,
        store=state.c.store,
        release_id=release_id,
        data=data,
    )
    return ArtworkOut.of(ref)


def _read(store: ObjectStore, key: str, size: int) -> bytes:
    return b"".join(store.read_range(key, 0, size - 1)) if size else b""


_VARIANT_PATH = artwork.URL_ROOT + "/{sha256}/{filename}"
_VARIANT_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"description": "the picture", "content": {t: {} for t in artwork.VARIANT_TYPES.values()}},
    304: {"description": "not modified (If-None-Match)"},
    404: {"description": "no such variant"},
}


@public.head(_VARIANT_PATH, operation_id="head_artwork", responses=_VARIANT_RESPONSES)
@public.get(_VARIANT_PATH, operation_id="get_artwork", response_class=Response, responses=_VARIANT_RESPONSES)
async def get_artwork(request: Request, sha256: str, filename: str, state: AppState) -> Response:
    """One rendered variant, e.g. `/api/artwork/<sha256>/300.webp`. Public, no sign-in: cover art is not
    protected content, and these content-hashed URLs are capability-like (known only from an answer that
    shows the picture) but not secret. Cached by anyone for a year (the bytes behind a URL never change);
    `If-None-Match` is answered with 304. Anything but a name this service makes is a 404."""
    key = artwork.variant_key(sha256, filename)
    if key is None:
        raise NotFound("no such artwork")
    store = state.c.store
    try:
        st = await run_in_threadpool(store.stat, key)
    except (FileNotFoundError, ValueError, OSError):
        raise NotFound("no such artwork") from None
    facts = ranges.ObjectFacts(
        size=st.size,
        mtime=st.mtime,
        etag=st.etag,
        content_type=artwork.VARIANT_TYPES[filename.rsplit(".", 1)[1]],
        cache_control=mediatypes.IMMUTABLE,
    )
    # Whole pictures only (they are small): range headers are ignored, and no range support is claimed.
    asked = {k: v for k, v in request.headers.items() if k not in ("range", "if-range")}
    plan = ranges.plan(request.method, asked, facts)
    headers = {k: v for k, v in plan.headers if k != "accept-ranges"}
    if not plan.body:
        return Response(status_code=plan.status, headers=headers)
    body = await run_in_threadpool(_read, store, key, st.size)
    return Response(body, status_code=plan.status, headers=headers)
