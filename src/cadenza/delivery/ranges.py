"""HTTP semantics for serving a stored object (RFC 9110): conditional requests, byte ranges, 304/412/416.

Pure functions over request headers and object facts; the ASGI layer only moves the bytes they choose."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime

_DIGITS = re.compile(r"[0-9]+")
_HUGE = 2**63
MAX_RANGES = 32  # more than this is a denial-of-service shape; RFC 9110 lets us ignore Range then


@dataclass(frozen=True)
class ObjectFacts:
    size: int
    mtime: float
    etag: str  # quoted strong validator, e.g. "abc-123"
    content_type: str
    cache_control: str


@dataclass
class Plan:
    """What to answer: status, headers, and the byte ranges to send (inclusive), if any body."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    ranges: list[tuple[int, int]] = field(default_factory=list)
    boundary: str | None = None  # multipart/byteranges when set
    body: bool = True

    def part_header(self, start: int, end: int, facts: ObjectFacts) -> bytes:
        assert self.boundary
        return (
            f"\r\n--{self.boundary}\r\nContent-Type: {facts.content_type}\r\n"
            f"Content-Range: bytes {start}-{end}/{facts.size}\r\n\r\n"
        ).encode()

    def closing(self) -> bytes:
        assert self.boundary
        return f"\r\n--{self.boundary}--\r\n".encode()


def http_date(ts: float) -> str:
    return formatdate(ts, usegmt=True)


def _etags(header: str) -> list[str]:
    return [t.strip() for t in header.split(",") if t.strip()]


def _weak_match(header: str, etag: str) -> bool:
    tags = _etags(header)
    return "*" in tags or etag.removeprefix("W/") in {t.removeprefix("W/") for t in tags}


def _strong_match(header: str, etag: str) -> bool:
    tags = _etags(header)
    return "*" in tags or (not etag.startswith("W/") and etag in tags)


def _date(value: str) -> float | None:
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _position(text: str) -> int:
    """A byte position of a Range header (ASCII digits, checked by `_DIGITS`), read as at most 2**63: any
    file is smaller, so a longer number means the same, and `int` refuses more than 4,300 digits."""
    return int(text) if len(text) <= 18 else _HUGE


def _magnitude(digits: str) -> tuple[int, str]:
    """Orders digit strings as the numbers they write."""
    significant = digits.lstrip("0")
    return len(significant), significant


def parse_range(header: str, size: int) -> list[tuple[int, int]] | None:
    """Satisfiable ranges for `bytes=...`; [] if none is satisfiable; None if the header is not usable."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or not spec.strip():
        return None
    out: list[tuple[int, int]] = []
    parts = spec.split(",")
    if len(parts) > MAX_RANGES:
        return None
    for part in parts:
        first, dash, last = part.strip().partition("-")
        # ASCII digits only: `str.isdigit` also takes '²', which `int` then refused (a 500).
        if not dash or not _DIGITS.fullmatch(first or "0") or not _DIGITS.fullmatch(last or "0"):
            return None
        if first == "":
            if last == "" or _position(last) == 0:
                if last == "":
                    return None
                continue  # bytes=-0 is unsatisfiable on its own
            n = _position(last)
            if size > 0:
                out.append((max(0, size - n), size - 1))
            continue
        start = _position(first)
        end = _position(last) if last else size - 1
        if last and _magnitude(last) < _magnitude(first):  # exact, whatever the length
            return None  # invalid syntax: the whole header is ignored
        if start < size:
            out.append((start, min(end, size - 1)))
    return out


def _coalesce(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def plan(method: str, headers: dict[str, str], facts: ObjectFacts) -> Plan:
    """Decide the response to GET/HEAD of an object with `facts`, given lower-cased request headers."""
    common = [
        ("accept-ranges", "bytes"),
        ("etag", facts.etag),
        ("last-modified", http_date(facts.mtime)),
        ("cache-control", facts.cache_control),
    ]
    head = method == "HEAD"
    if_match = headers.get("if-match")
    if if_match is not None and not _strong_match(if_match, facts.etag):
        return Plan(412, [*common, ("content-length", "0")], body=False)
    if_unmod = headers.get("if-unmodified-since")
    if if_match is None and if_unmod is not None:
        since = _date(if_unmod)
        if since is not None and int(facts.mtime) > since:
            return Plan(412, [*common, ("content-length", "0")], body=False)
    inm = headers.get("if-none-match")
    if inm is not None:
        if _weak_match(inm, facts.etag):
            return Plan(304, common, body=False)
    else:
        ims = headers.get("if-modified-since")
        since = _date(ims) if ims else None
        if since is not None and int(facts.mtime) <= since:
            return Plan(304, common, body=False)
    full = Plan(
        200,
        [*common, ("content-type", facts.content_type), ("content-length", str(facts.size))],
        ranges=[(0, facts.size - 1)] if facts.size else [],
        body=not head,
    )
    range_header = headers.get("range")
    if range_header is None or method != "GET":
        return full
    if_range = headers.get("if-range")
    if if_range is not None:
        if if_range.startswith(('"', "W/")):
            if not _strong_match(if_range, facts.etag) or if_range == "*":
                return full
        else:
            when = _date(if_range)
            if when is None or int(when) != int(facts.mtime):
                return full
    ranges = parse_range(range_header, facts.size)
    if ranges is None:
        return full
    if not ranges:
        return Plan(
            416,
            [*common, ("content-range", f"bytes */{facts.size}"), ("content-length", "0")],
            body=False,
        )
    ranges = _coalesce(ranges)
    if len(ranges) == 1:
        start, end = ranges[0]
        return Plan(
            206,
            [
                *common,
                ("content-type", facts.content_type),
                ("content-range", f"bytes {start}-{end}/{facts.size}"),
                ("content-length", str(end - start + 1)),
            ],
            ranges=ranges,
        )
    boundary = secrets.token_hex(16)
    p = Plan(206, ranges=ranges, boundary=boundary)
    length = sum(len(p.part_header(s, e, facts)) + (e - s + 1) for s, e in ranges) + len(p.closing())
    p.headers = [
        *common,
        ("content-type", f"multipart/byteranges; boundary={boundary}"),
        ("content-length", str(length)),
    ]
    return p
