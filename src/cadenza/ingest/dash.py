"""The DASH MPD written beside the HLS master, over the same CMAF segments (no second copy in storage).

The segments are named by content hash, so there is no number or time to put in a `SegmentTemplate`;
each Representation lists its segments in a `SegmentList` with a `SegmentTimeline` (exact durations in
the track's timescale, the sample rate, as ffmpeg's mp4 muxer writes `mdhd`). That needs the
`isoff-main` profile (`isoff-live` requires templates). URLs are relative to the MPD; the signed media
path adds a `BaseURL` carrying the listener's token when it serves the MPD (`delivery/manifests.py`),
as it rewrites the HLS master.

    <MPD type="static" profiles="urn:mpeg:dash:profile:isoff-main:2011" mediaPresentationDuration=...>
      <Period id="0" start="PT0S">
        <AdaptationSet contentType="audio" mimeType="audio/mp4" codecs=... segmentAlignment="true" ...>
          [<ContentProtection .../> when the track is encrypted]
          <Representation id="aac_128" codecs="mp4a.40.2" bandwidth=peak audioSamplingRate=44100>
            <SegmentList timescale="44100"><Initialization sourceURL="aac_128/<sha>.mp4"/>
              <SegmentTimeline><S t="0" d="265216"/><S d="264192" r="3"/>...</SegmentTimeline>
              <SegmentURL media="aac_128/<sha>.m4s"/>...
        [<AdaptationSet ... codecs="fLaC"> in the hi-fi MPD: one codec per set, with adaptation-set
         switching declared between the two, since MSE players keep one codec per SourceBuffer]
"""

from __future__ import annotations

import copy
import os
import posixpath
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path

from mpegdash.parser import MPEGDASHParser

from cadenza.ingest import hls
from cadenza.ingest.hls import Rendition

NS = "urn:mpeg:dash:schema:mpd:2011"
CENC_NS = "urn:mpeg:cenc:2013"
PROFILE = "urn:mpeg:dash:profile:isoff-main:2011"
SWITCHING_SCHEME = "urn:mpeg:dash:adaptation-set-switching:2016"
CHANNELS_SCHEME = "urn:mpeg:dash:23003:3:audio_channel_configuration:2011"
MIN_BUFFER_SEC = 4


def _duration(seconds: float) -> str:
    return f"PT{seconds:.3f}S"


def _timeline(ticks: Sequence[int]) -> ET.Element:
    """`<S>` elements with run-length repeats (`r`), starting at t=0."""
    timeline = ET.Element("SegmentTimeline")
    runs: list[list[int]] = []
    for d in ticks:
        if runs and runs[-1][0] == d:
            runs[-1][1] += 1
        else:
            runs.append([d, 0])
    for i, (d, r) in enumerate(runs):
        attrs = {"t": "0"} if i == 0 else {}
        attrs["d"] = str(d)
        if r:
            attrs["r"] = str(r)
        ET.SubElement(timeline, "S", attrs)
    return timeline


def _representation(
    adaptation: ET.Element, r: Rendition, root: Path, mpd_dir: str, audio: tuple[int, int]
) -> float:
    """Append one Representation with its SegmentList; return its duration in seconds."""
    rate, channels = audio
    playlist = root / r.playlist
    init, uris = hls.segment_uris(playlist)
    ticks = [round(d * rate) for d in hls.segment_durations(playlist)]
    base = posixpath.relpath(posixpath.dirname(r.playlist), mpd_dir or ".")
    rep = ET.SubElement(
        adaptation,
        "Representation",
        {
            "id": r.name,
            "codecs": r.codecs,
            "bandwidth": str(r.peak_bandwidth),
            "audioSamplingRate": str(rate),
        },
    )
    ET.SubElement(rep, "AudioChannelConfiguration", {"schemeIdUri": CHANNELS_SCHEME, "value": str(channels)})
    segments = ET.SubElement(rep, "SegmentList", {"timescale": str(rate)})
    ET.SubElement(segments, "Initialization", {"sourceURL": posixpath.join(base, init)})
    segments.append(_timeline(ticks))
    for uri in uris:
        ET.SubElement(segments, "SegmentURL", {"media": posixpath.join(base, uri)})
    return sum(ticks) / rate


def write_mpd(
    path: Path,
    root: Path,
    renditions: Sequence[Rendition],
    *,
    audio: Mapping[str, tuple[int, int]],
    protection: Sequence[ET.Element] = (),
) -> float:
    """Write a static MPD at `path` for packaged renditions (playlists relative to `root`); `audio` gives
    each rendition's (sample rate, channels). `protection` elements go first in the AdaptationSet.
    Parse it back with a DASH parser as a check; return the presentation duration in seconds."""
    ET.register_namespace("cenc", CENC_NS)
    mpd_dir = posixpath.dirname(path.relative_to(root).as_posix())
    ordered = sorted(renditions, key=lambda r: (r.peak_bandwidth, r.bitrate_kbps))
    codecs = list(dict.fromkeys(r.codecs for r in ordered))
    period = ET.Element("Period", {"id": "0", "start": "PT0S"})
    longest = 0.0
    for set_id, codec in enumerate(codecs):
        adaptation = ET.SubElement(
            period,
            "AdaptationSet",
            {
                "id": str(set_id),
                "contentType": "audio",
                "mimeType": "audio/mp4",
                "codecs": codec,
                "segmentAlignment": "true",
                "startWithSAP": "1",
            },
        )
        for element in protection:
            adaptation.append(copy.deepcopy(element))
        if len(codecs) > 1:
            # One codec per AdaptationSet (DASH-IF IOP); the sets are aligned, so a client may switch
            # between them at any segment boundary (ISO/IEC 23009-1 adaptation-set switching).
            others = ",".join(str(i) for i in range(len(codecs)) if i != set_id)
            ET.SubElement(
                adaptation, "SupplementalProperty", {"schemeIdUri": SWITCHING_SCHEME, "value": others}
            )
        for r in (r for r in ordered if r.codecs == codec):
            longest = max(longest, _representation(adaptation, r, root, mpd_dir, audio[r.name]))
    mpd = ET.Element(
        "MPD",
        {
            "xmlns": NS,
            "profiles": PROFILE,
            "type": "static",
            "mediaPresentationDuration": _duration(longest),
            "minBufferTime": f"PT{MIN_BUFFER_SEC}S",
        },
    )
    mpd.append(period)
    ET.indent(mpd)
    text = ET.tostring(mpd, encoding="unicode", xml_declaration=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text + "\n")
    os.replace(tmp, path)
    parsed = MPEGDASHParser.parse(str(path))
    reps = [r for a in parsed.periods[0].adaptation_sets for r in a.representations]
    if len(reps) != len(ordered):
        raise ValueError(f"{path}: MPD did not parse back with {len(ordered)} representations")
    return longest
