"""W3C Clear Key: the MPD's ContentProtection elements and the licence exchange's JSON.

- MPD (DASH-IF IOP 4.3 / ISO 23009-1 5.8.4.1): an `mp4protection` descriptor saying `cenc` with the
  default KID; the W3C common-PSSH system (`urn:uuid:1077efec-...`) carrying the standard `pssh` (the
  same box as in the init segments); the Clear Key system (`urn:uuid:e2719d58-...`). The pssh is not
  repeated inside the Clear Key element: dash.js 4.7 passes whatever init data it finds there to the CDM
  as `keyids` JSON, so a pssh there makes Chromium refuse the request (TypeError); without it dash.js
  builds `{"kids": [default_KID]}`, which is what the Clear Key CDM asks the licence server for anyway.
- Licence (https://www.w3.org/TR/encrypted-media/#clear-key-request-format): the CDM posts
  `{"kids": [b64url KID, ...], "type": "temporary"}`; the answer is a JWK set
  `{"keys": [{"kty": "oct", "kid": b64url, "k": b64url}], "type": "temporary"}` (base64url, no padding).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping

from cadenza.errors import InvalidInput
from cadenza.protection import cenc

CENC_NS = "urn:mpeg:cenc:2013"
MP4PROTECTION = "urn:mpeg:dash:mp4protection:2011"
CLEARKEY_URN = f"urn:uuid:{cenc.CLEARKEY_SYSTEM_ID}"
COMMON_URN = f"urn:uuid:{cenc.COMMON_SYSTEM_ID}"
MAX_REQUEST_BYTES = 4096
MAX_KIDS = 16


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def content_protection(kid: bytes) -> list[ET.Element]:
    """The ContentProtection elements of a protected AdaptationSet."""
    default_kid = str(uuid.UUID(bytes=kid))
    common = ET.Element(
        "ContentProtection",
        {"schemeIdUri": MP4PROTECTION, "value": "cenc", f"{{{CENC_NS}}}default_KID": default_kid},
    )
    w3c = ET.Element("ContentProtection", {"schemeIdUri": COMMON_URN, "value": "cenc"})
    ET.SubElement(w3c, f"{{{CENC_NS}}}pssh").text = base64.b64encode(cenc.pssh(kid)).decode()
    clearkey = ET.Element("ContentProtection", {"schemeIdUri": CLEARKEY_URN, "value": "ClearKey1.0"})
    return [common, w3c, clearkey]


def parse_request(body: bytes) -> list[bytes]:
    """The KIDs a Clear Key licence request asks for; InvalidInput for anything else."""
    if len(body) > MAX_REQUEST_BYTES:
        raise InvalidInput("licence request too large")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("licence request is not JSON") from exc
    kids = data.get("kids") if isinstance(data, dict) else None
    if not isinstance(kids, list) or not kids or len(kids) > MAX_KIDS:
        raise InvalidInput(f"licence request needs 'kids': a list of 1 to {MAX_KIDS} key ids")
    out = []
    for kid in kids:
        try:
            raw = from_b64url(kid) if isinstance(kid, str) and kid.isascii() else b""
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 16:
            raise InvalidInput("each kid is a base64url 16-byte key id")
        out.append(raw)
    return out


def licence(keys: Mapping[bytes, bytes]) -> dict[str, object]:
    """The JWK set answering a licence request."""
    return {
        "keys": [{"kty": "oct", "kid": b64url(kid), "k": b64url(key)} for kid, key in keys.items()],
        "type": "temporary",
    }
