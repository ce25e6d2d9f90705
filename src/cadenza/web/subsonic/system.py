"""System and user methods: ping, getLicense, getOpenSubsonicExtensions, getUser, getMusicFolders."""

from __future__ import annotations

from typing import Any

from cadenza.accounts.models import Role
from cadenza.web.subsonic.envelope import NOT_AUTHORIZED, SubsonicError
from cadenza.web.subsonic.registry import Call, method

# The OpenSubsonic extensions this server implements, with their versions.
EXTENSIONS = {
    "apiKeyAuthentication": [1],
    "formPost": [1],
    "songLyrics": [1],
    "playbackReport": [1],
}
MUSIC_FOLDER = {"id": 1, "name": "Cadenza"}


@method("ping")
def ping(_: Call) -> dict[str, Any]:
    return {}


@method("getLicense")
def get_license(_: Call) -> dict[str, Any]:
    return {"license": {"valid": True}}


@method("getOpenSubsonicExtensions", public=True)
def get_extensions(_: Call) -> dict[str, Any]:
    return {"openSubsonicExtensions": [{"name": n, "versions": v} for n, v in EXTENSIONS.items()]}


@method("getUser")
def get_user(call: Call) -> dict[str, Any]:
    user = call.principal
    asked = call.params.required("username", max_length=320).strip().lower()
    if asked != user.email and user.role != Role.admin:
        raise SubsonicError(NOT_AUTHORIZED, "you may only read your own user")
    if asked != user.email:
        raise SubsonicError(NOT_AUTHORIZED, "reading other users is not supported")
    admin = user.role == Role.admin
    return {
        "user": {
            "username": user.email,
            "email": user.email,
            "scrobblingEnabled": True,
            "adminRole": admin,
            "settingsRole": False,
            "downloadRole": True,
            "uploadRole": admin,
            "playlistRole": True,
            "coverArtRole": False,
            "commentRole": False,
            "podcastRole": False,
            "streamRole": True,
            "jukeboxRole": False,
            "shareRole": False,
            "videoConversionRole": False,
            "folder": [MUSIC_FOLDER["id"]],
        }
    }


@method("getMusicFolders")
def get_music_folders(_: Call) -> dict[str, Any]:
    return {"musicFolders": {"musicFolder": [MUSIC_FOLDER]}}


@method("tokenInfo")
def token_info(call: Call) -> dict[str, Any]:
    """Who the API key (or app password) belongs to (OpenSubsonic apiKeyAuthentication)."""
    return {"tokenInfo": {"username": call.principal.email}}
