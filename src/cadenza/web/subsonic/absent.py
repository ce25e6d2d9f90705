"""Subsonic features Cadenza has no concept of: internet radio, podcasts, shares, folder scans, avatars.

Apps call several of these at start-up (Symfonium, DSub, Ultrasonic, Amperfy list radio stations,
podcasts and shares while syncing); an error there shows as a failed sync, so each answers what is
true: an empty, valid list, or a scan status that says nothing is being scanned (Cadenza ingests each
upload as it arrives: there is no folder to scan). Methods Cadenza does not offer at all (jukebox,
chat, user administration, video) are not registered: the router answers them "unknown method"."""

from __future__ import annotations

from typing import Any

from cadenza.accounts.models import Role
from cadenza.catalog import browse
from cadenza.db.engine import reading
from cadenza.web.subsonic.envelope import NOT_AUTHORIZED, NOT_FOUND, SubsonicError
from cadenza.web.subsonic.registry import Call, method


@method("getInternetRadioStations")
def get_internet_radio_stations(_: Call) -> dict[str, Any]:
    return {"internetRadioStations": {"internetRadioStation": []}}


@method("getPodcasts")
def get_podcasts(_: Call) -> dict[str, Any]:
    return {"podcasts": {"channel": []}}


@method("getNewestPodcasts")
def get_newest_podcasts(_: Call) -> dict[str, Any]:
    return {"newestPodcasts": {"episode": []}}


@method("getShares")
def get_shares(_: Call) -> dict[str, Any]:
    return {"shares": {"share": []}}


def _scan_status(call: Call) -> dict[str, Any]:
    with reading(call.state.c.sessions) as s:
        count = browse.track_count(s, viewer=call.viewer)
    return {"scanStatus": {"scanning": False, "count": count}}


@method("getScanStatus")
def get_scan_status(call: Call) -> dict[str, Any]:
    """Never scanning; `count` is the number of tracks the caller may see."""
    return _scan_status(call)


@method("startScan")
def start_scan(call: Call) -> dict[str, Any]:
    """Nothing to scan (uploads are ingested as they arrive): the status, for admins as Subsonic asks."""
    if call.principal.role != Role.admin:
        raise SubsonicError(NOT_AUTHORIZED, "only administrators may start a scan")
    return _scan_status(call)


@method("getAvatar")
def get_avatar(call: Call) -> dict[str, Any]:
    """Cadenza keeps no avatars: 'not found', which apps answer with their placeholder."""
    call.params.required("username", max_length=320)
    raise SubsonicError(NOT_FOUND, "no avatar")
