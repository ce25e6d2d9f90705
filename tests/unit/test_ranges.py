"""RFC 9110 conditional and range requests, decided by delivery.ranges.plan."""

from __future__ import annotations

import pytest

from cadenza.delivery.ranges import ObjectFacts, http_date, parse_range, plan

FACTS = ObjectFacts(
    size=1000, mtime=1_700_000_000, etag='"3e8-1"', content_type="audio/mpeg", cache_control="x"
)


def _h(p, name: str) -> str | None:  # type: ignore[no-untyped-def]
    return dict(p.headers).get(name)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", [(0, 99)]),
        ("bytes=900-", [(900, 999)]),
        ("bytes=-100", [(900, 999)]),
        ("bytes=-5000", [(0, 999)]),
        ("bytes=990-2000", [(990, 999)]),
        ("bytes=0-0,-1", [(0, 0), (999, 999)]),
        ("bytes=1000-", []),
        ("bytes=-0", []),
        ("bytes=5-1", None),
        ("items=0-1", None),
        ("bytes=abc", None),
        ("bytes=", None),
    ],
)
def test_parse_range(header: str, expected: list | None) -> None:
    assert parse_range(header, 1000) == expected


def test_full_and_head() -> None:
    p = plan("GET", {}, FACTS)
    assert p.status == 200 and p.ranges == [(0, 999)] and _h(p, "accept-ranges") == "bytes"
    assert _h(p, "etag") == FACTS.etag and _h(p, "last-modified") == http_date(FACTS.mtime)
    head = plan("HEAD", {"range": "bytes=0-1"}, FACTS)
    assert head.status == 200 and not head.body and _h(head, "content-length") == "1000"


def test_single_suffix_open_and_unsatisfiable_ranges() -> None:
    p = plan("GET", {"range": "bytes=0-99"}, FACTS)
    assert (
        p.status == 206 and _h(p, "content-range") == "bytes 0-99/1000" and _h(p, "content-length") == "100"
    )
    assert _h(plan("GET", {"range": "bytes=-500"}, FACTS), "content-range") == "bytes 500-999/1000"
    assert _h(plan("GET", {"range": "bytes=100-"}, FACTS), "content-range") == "bytes 100-999/1000"
    bad = plan("GET", {"range": "bytes=5000-6000"}, FACTS)
    assert bad.status == 416 and _h(bad, "content-range") == "bytes */1000"


def test_multiple_ranges_are_multipart_with_exact_length() -> None:
    p = plan("GET", {"range": "bytes=0-9,20-29,25-40"}, FACTS)
    assert p.status == 206 and p.boundary and p.ranges == [(0, 9), (20, 40)]
    body = b"".join(p.part_header(s, e, FACTS) + b"x" * (e - s + 1) for s, e in p.ranges) + p.closing()
    assert int(_h(p, "content-length") or 0) == len(body)
    assert _h(p, "content-type") == f"multipart/byteranges; boundary={p.boundary}"


def test_conditional_requests() -> None:
    assert plan("GET", {"if-none-match": FACTS.etag}, FACTS).status == 304
    assert plan("GET", {"if-none-match": 'W/"3e8-1"'}, FACTS).status == 304
    assert plan("GET", {"if-none-match": '"other"'}, FACTS).status == 200
    assert plan("GET", {"if-modified-since": http_date(FACTS.mtime)}, FACTS).status == 304
    assert plan("GET", {"if-modified-since": http_date(FACTS.mtime - 10)}, FACTS).status == 200
    assert plan("GET", {"if-match": '"other"'}, FACTS).status == 412
    assert plan("GET", {"if-unmodified-since": http_date(FACTS.mtime - 10)}, FACTS).status == 412


def test_if_range_falls_back_to_the_whole_object_when_it_changed() -> None:
    assert plan("GET", {"range": "bytes=0-9", "if-range": FACTS.etag}, FACTS).status == 206
    assert plan("GET", {"range": "bytes=0-9", "if-range": '"stale"'}, FACTS).status == 200
    assert plan("GET", {"range": "bytes=0-9", "if-range": http_date(FACTS.mtime)}, FACTS).status == 206
    assert plan("GET", {"range": "bytes=0-9", "if-range": http_date(FACTS.mtime - 1)}, FACTS).status == 200


def test_too_many_ranges_are_ignored() -> None:
    header = "bytes=" + ",".join(f"{i * 10}-{i * 10 + 1}" for i in range(50))
    assert plan("GET", {"range": header}, FACTS).status == 200
