"""The `subsonic-response` envelope in XML, JSON and JSONP, rendered from one tree.

A body is plain data: a dict is an element, whose scalar values are attributes, whose dict values are one
child element and whose list values are repeated child elements of that name; the key `value` is the
element's text in XML (as Subsonic's `<genre>Rock</genre>`, `"value": "Rock"` in JSON). XML is written
in one pass (`to_xml`), in the namespace `http://subsonic.org/restapi`."""

from __future__ import annotations

import re
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


# What XML escapes in attribute values and in text (as `xml.etree`'s serializer does).
_IN_ATTRIBUTE = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#09;"}
)
_IN_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_SPECIAL = re.compile(r'[&<>"\n\r\t]')


def _write(out: list[str], tag: str, data: dict[str, Any]) -> None:
    """One element: its scalars as attributes, `value` as its text, dicts and lists as children."""
    head, text, children = [f"<{tag}"], None, []
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, dict | list):
            children.append((key, value))
        elif key == "value":
            text = _text(value).translate(_IN_TEXT)
        elif value is True or value is False:
            head.append(f' {key}="{"true" if value else "false"}"')
        elif type(value) is int:
            head.append(f' {key}="{value}"')
        else:
            value = str(value)
            if _SPECIAL.search(value) is not None:  # rare: most values need no escape
                value = value.translate(_IN_ATTRIBUTE)
            head.append(f' {key}="{value}"')
    if text is None and not children:
        out.append("".join(head) + " />")
        return
    out.append("".join(head) + ">")
    if text is not None:
        out.append(text)
    for key, value in children:
        for item in value if isinstance(value, list) else (value,):
            if isinstance(item, dict):
                _write(out, key, item)
            else:
                out.append(f"<{key}>{_text(item).translate(_IN_TEXT)}</{key}>")
    out.append(f"</{tag}>")


def to_xml(data: dict[str, Any]) -> bytes:
    """The envelope as XML, written directly: `xml.etree` built and then serialized each of a sync
    page's ~12,000 attributes in Python, twice the time of this one pass; the escaping is the same."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n']
    _write(out, "subsonic-response", {"xmlns": NAMESPACE, **data})
    return "".join(out).encode("utf-8", "xmlcharrefreplace")


class Clean(list[dict[str, Any]]):
    """Elements built without None values (`shapes.song`): the envelope sends them as they are. A sync
    page's 500 songs hold some 12,000 values, and walking them again for Nones cost a third of its CPU."""


def _drop_none(value: Any) -> Any:
    """The tree without its None values (absent in JSON, as in XML). Recurses only into plain containers
    (not into `Clean` lists): a call per scalar was a fifth of a sync page's CPU."""
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
