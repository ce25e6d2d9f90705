"""The `subsonic-response` envelope in XML, JSON and JSONP, rendered from one tree.

A body is plain data: a dict is an element, whose scalar values are attributes, whose dict values are one
child element and whose list values are repeated child elements of that name; the key `value` is the
element's text in XML (as Subsonic's `<genre>Rock</genre>`, `"value": "Rock"` in JSON). XML is written
by `xml.etree` (escaping is the library's), in the namespace `http://subsonic.org/restapi`."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import orjson
from fastapi.responses import Response

from cadenza import __version__

NAMESPACE = "http://subsonic.org/restapi"
API_VERSION = "1.16.1"
SERVER_TYPE = "cadenza"

# Subsonic error codes (the spec's list).
GENERIC = 0
MISSING_PARAMETER = 10
CLIENT_TOO_OLD = 20
SERVER_TOO_OLD = 30
WRONG_CREDENTIALS = 40
TOKEN_AUTH_NOT_SUPPORTED = 41
AUTH_MECHANISM_NOT_SUPPORTED = 42
CONFLICTING_AUTH = 43
INVALID_API_KEY = 44
NOT_AUTHORIZED = 50
NOT_FOUND = 70

FORMATS = ("xml", "json", "jsonp")
_CALLBACK = re.compile(r"[A-Za-z_$][\w$.]{0,99}")


class SubsonicError(Exception):
    """A failed response with the spec's code; raised anywhere below the router."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def envelope(status: str = "ok", body: dict[str, Any] | None = None) -> dict[str, Any]:
    head: dict[str, Any] = {
        "status": status,
        "version": API_VERSION,
        "type": SERVER_TYPE,
        "serverVersion": __version__,
        "openSubsonic": True,
    }
    return {**head, **(body or {})}


def failed(code: int, message: str) -> dict[str, Any]:
    return envelope("failed", {"error": {"code": code, "message": message}})


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(element: ET.Element, data: dict[str, Any]) -> None:
    for key, value in data.items():
        if value is None:
            continue
        if key == "value" and not isinstance(value, dict | list):
            element.text = _text(value)
        elif isinstance(value, dict):
            _fill(ET.SubElement(element, key), value)
        elif isinstance(value, list):
            for item in value:
                child = ET.SubElement(element, key)
                if isinstance(item, dict):
                    _fill(child, item)
                else:
                    child.text = _text(item)
        else:
            element.set(key, _text(value))


def to_xml(data: dict[str, Any]) -> bytes:
    root = ET.Element("subsonic-response", {"xmlns": NAMESPACE})
    _fill(root, data)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(
        root, encoding="utf-8", xml_declaration=False
    )


def _drop_none(value: Any) -> Any:
    """The tree without its None values (absent in JSON, as in XML). Recurses only into containers: a
    sync page holds some 15,000 scalars, and a call per scalar was a fifth of the page's CPU."""
    if type(value) is dict:
        return {k: _drop_none(v) if type(v) in (dict, list) else v for k, v in value.items() if v is not None}
    if type(value) is list:
        return [_drop_none(v) if type(v) in (dict, list) else v for v in value]
    return value


def to_json(data: dict[str, Any]) -> bytes:
    """UTF-8 JSON by orjson (a page of a full sync is ~15,000 values: the stdlib encoder took a fifth of
    the page's CPU)."""
    return orjson.dumps({"subsonic-response": _drop_none(data)})


def render(data: dict[str, Any], *, fmt: str, callback: str | None) -> Response:
    """The envelope in the requested format (an unknown format, or JSONP without a usable callback,
    falls back to XML, the protocol's default, with an error there instead)."""
    if fmt == "json":
        return Response(to_json(data), media_type="application/json")
    if fmt == "jsonp" and callback and _CALLBACK.fullmatch(callback):
        return Response(callback.encode() + b"(" + to_json(data) + b");", media_type="application/javascript")
    return Response(to_xml(data), media_type="application/xml")
