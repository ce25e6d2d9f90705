"""The Subsonic wire format and the scrobble rule, at unit speed (no server, no database)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from cadenza.royalties.scrobbles import scrobble_event
from cadenza.web.subsonic.envelope import envelope, failed, render, to_json, to_xml
from cadenza.web.subsonic.ids import make, split

NS = "{http://subsonic.org/restapi}"


def test_one_tree_renders_to_xml_and_json_with_the_same_data() -> None:
    body = envelope(
        "ok", {"genres": {"genre": [{"songCount": 2, "albumCount": 1, "value": "Rock & <Roll>"}]}}
    )
    root = ET.fromstring(to_xml(body))
    genre = root.find(f"{NS}genres/{NS}genre")
    assert (
        genre is not None
        and genre.text == "Rock & <Roll>"
        and genre.attrib == {"songCount": "2", "albumCount": "1"}
    )
    assert root.attrib["openSubsonic"] == "true" and root.attrib["version"] == "1.16.1"
    data = json.loads(to_json(body))["subsonic-response"]
    assert data["genres"]["genre"] == [{"songCount": 2, "albumCount": 1, "value": "Rock & <Roll>"}]
    assert data["openSubsonic"] is True


def test_missing_values_are_left_out_not_written_as_none() -> None:
    body = envelope("ok", {"song": {"id": "tr-1", "year": None}})
    assert "year" not in json.loads(to_json(body))["subsonic-response"]["song"]
    assert "year" not in to_xml(body).decode()


def test_errors_carry_the_code_and_message() -> None:
    root = ET.fromstring(to_xml(failed(70, "album not found")))
    assert root.attrib["status"] == "failed"
    error = root.find(f"{NS}error")
    assert error is not None and error.attrib == {"code": "70", "message": "album not found"}


def test_jsonp_needs_a_plain_callback_name() -> None:
    assert render(envelope(), fmt="jsonp", callback="cb.x_1").body.startswith(b"cb.x_1(")
    assert render(envelope(), fmt="jsonp", callback="alert(1)//").media_type == "application/xml"


def test_ids_carry_their_kind() -> None:
    assert split(make("al", 5) or "") == ("al", 5)


def test_a_scrobble_claims_no_more_than_wall_time_nor_the_track() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    early = scrobble_event(
        "s", started_at=start, duration_sec=200, at=start + timedelta(seconds=40), max_rate=1.0
    )
    late = scrobble_event(
        "s", started_at=start, duration_sec=200, at=start + timedelta(hours=1), max_rate=1.0
    )
    assert early["seconds_played"] == 40 and late["seconds_played"] == 200
    assert early["id"] == late["id"]  # one scrobble per session: a repeat is a duplicate


def test_app_passwords_are_sealed_and_only_the_same_secret_opens_them() -> None:
    from cadenza.accounts.subsonic_credentials import Vault

    sealed = Vault("one").seal("app-password")
    assert "app-password" not in sealed
    assert Vault("one").open(sealed) == "app-password" and Vault("two").open(sealed) is None


def test_production_needs_the_subsonic_secret() -> None:
    import pytest
    from pydantic import ValidationError

    from cadenza.config import Settings

    with pytest.raises(ValidationError, match="CADENZA_SUBSONIC__SECRET"):
        Settings(env="prod")
    assert Settings(env="prod", subsonic={"secret": "s"}).subsonic_secret() == "s"  # type: ignore[arg-type]


# --- keyset continuation of offset paging, and playback reports ----------------------------------------


def test_page_cursors_continue_a_clients_own_walk_only() -> None:
    from cadenza.catalog.page_cursors import PageCursors

    now = [0.0]
    cursors = PageCursors(ttl=60, clock=lambda: now[0])
    cursors.gave("phone", "song", 0, [3, 5, 9])
    assert cursors.after("phone", "song", 3) == 9  # the next page starts after id 9
    assert cursors.after("laptop", "song", 3) is None  # another client's walk is its own
    assert cursors.after("phone", "album", 3) is None and cursors.after("phone", "song", 0) is None
    cursors.gave("phone", "song", 3, [])  # an empty page remembers nothing
    assert cursors.after("phone", "song", 3) == 9
    now[0] = 61.0
    assert cursors.after("phone", "song", 3) is None  # expired: an OFFSET again


def test_a_playback_report_claims_playing_wall_time_only() -> None:
    from cadenza.royalties.scrobbles import LastReport, report_event

    start = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    at = start + timedelta(seconds=20)
    first = report_event("s1", started_at=start, previous=None, state="playing", position_ms=0,
                         playback_rate=1.0, at=at)  # fmt: skip
    assert first["kind"] == "progress" and first["seconds_played"] == 0.0  # nothing known to be playing
    playing = LastReport("progress", start + timedelta(seconds=5), 1.0)
    later = report_event("s1", started_at=start, previous=playing, state="paused", position_ms=15_000,
                         playback_rate=1.0, at=at)  # fmt: skip
    assert later["kind"] == "pause" and later["seconds_played"] == 15.0
    paused = LastReport("pause", start + timedelta(seconds=5), 1.0)
    resumed = report_event("s1", started_at=start, previous=paused, state="playing", position_ms=15_000,
                           playback_rate=1.0, at=at)  # fmt: skip
    assert resumed["seconds_played"] == 0.0  # time spent paused is not playing time
    restart = report_event("s1", started_at=start, previous=playing, state="starting", position_ms=0,
                           playback_rate=1.0, at=at)  # fmt: skip
    assert restart["seconds_played"] == 0.0  # buffering before `starting` is not playing time
    again = report_event("s1", started_at=start, previous=playing, state="paused", position_ms=15_000,
                         playback_rate=1.0, at=at)  # fmt: skip
    assert again["id"] == later["id"]  # a retried report is the same event
