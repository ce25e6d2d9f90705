"""The edge (deploy/nginx/) on a real nginx + njs, in front of a stand-in origin: signed URLs are checked
at the edge with the same rules as cadenza.delivery.signing, refusals never reach the origin, and the
shield cache is shared by every listener."""

from __future__ import annotations

import getpass
import hashlib
import http.client
import json
import os
import string
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cadenza.delivery import signing
from e2e import nginx_fixture
from e2e.nginx_fixture import NginxProcess, start_nginx
from e2e.origin_standin import StandInOrigin

if reason := nginx_fixture.missing():
    pytest.skip(reason, allow_module_level=True)

ORIGIN_SECRET = "origin-secret-for-tests"
KEYS = {"k1": "first-secret-Zm9vYmFy", "k2": "second-secret-YmF6cXV4"}
K1 = signing.Keyring("k1", KEYS)
K2 = signing.Keyring("k2", KEYS)
ME = "127.0.0.1"  # the address nginx sees for these tests' requests
PREFIX = "tracks/7/0123abcd"
SEGMENT = f"{PREFIX}/hls/aac_128/5adbfe6e531f6d79.m4s"
INIT = f"{PREFIX}/hls/aac_128/b1315e433e5aba9e.mp4"
VARIANT = f"{PREFIX}/hls/aac_128/index.m3u8"
MASTER = f"{PREFIX}/hls/master.m3u8"
MP3 = f"{PREFIX}/download/mp3_320.mp3"  # > 2 slices
WAVEFORM = f"{PREFIX}/waveform.json"

# The test hook: a second server on the edge's port (Host: selftest) that runs cadenza.js `verify` on a
# batch of cases, so Python and njs can be compared on identical (token, key, ip, now) inputs.
SELFTEST_JS = """import cadenza from 'cadenza.js';
function run(r) {
    var keys = JSON.parse(r.variables.cadenza_signing_keys);
    var cases = JSON.parse(r.requestText);
    var out = cases.map(function (c) { return cadenza.verify(keys, c.token, c.key, c.ip, c.now); });
    r.return(200, JSON.stringify(out));
}
export default { run: run };
"""
SELFTEST_CONF = """js_import selftest from selftest.js;
server {
    listen ${LISTEN};
    server_name selftest;
    client_max_body_size 4m;
    client_body_buffer_size 4m;
    location = /verify { js_content selftest.run; }
}
"""


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def json(self) -> dict[str, str]:
        return json.loads(self.body)


def request(
    edge: NginxProcess,
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> Response:
    """Send `path` byte for byte (no client-side normalisation, so traversal attempts arrive as written)."""
    conn = http.client.HTTPConnection("127.0.0.1", edge.port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host="Host" in (headers or {}), skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if body:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        resp = conn.getresponse()
        return Response(resp.status, resp.headers, resp.read())
    finally:
        conn.close()


def media(
    key: str, *, keyring: signing.Keyring = K1, depth: int = 0, ttl: int = 600, ip: str | None = ME
) -> str:
    return signing.signed_path(keyring, key=key, depth=depth, ttl=ttl, ip=ip)


@pytest.fixture(scope="module")
def media_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("media")
    rnd = os.urandom
    objects = {
        SEGMENT: rnd(200_000),
        INIT: rnd(700),
        VARIANT: b'#EXTM3U\n#EXT-X-MAP:URI="b1315e433e5aba9e.mp4"\n#EXTINF:6.0,\n5adbfe6e531f6d79.m4s\n',
        MASTER: b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=140000\naac_128/index.m3u8\n",
        MP3: rnd(2_500_000),
        WAVEFORM: b'{"version":2,"data":[0,1]}',
    }
    for key, data in objects.items():
        put(root, key, data)
    return root


def put(root: Path, key: str, data: bytes) -> bytes:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


@pytest.fixture(scope="module")
def origin(media_root: Path) -> Iterator[StandInOrigin]:
    o = StandInOrigin(media_root, ORIGIN_SECRET, K1).start()
    yield o
    o.stop()


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory, origin: StandInOrigin) -> Iterator[NginxProcess]:
    prefix = tmp_path_factory.mktemp("edge")
    (prefix / "selftest.js").write_text(SELFTEST_JS)
    e = start_nginx(
        prefix,
        upstream=origin.url,
        keys=KEYS,
        origin_secret=ORIGIN_SECRET,
        extra_conf={"selftest.conf": SELFTEST_CONF},
    )
    yield e
    e.stop()
    # A crashed worker or an njs exception shows up here, not in any response.
    assert "[alert]" not in e.error_log() and "js exception" not in e.error_log(), e.error_log()


def fresh(root: Path, kind: str = "m4s", size: int = 50_000) -> tuple[str, bytes]:
    """A new object no test has requested yet (the shield cache lives for the whole module)."""
    data = os.urandom(size)
    key = f"{PREFIX}/hls/aac_256/{hashlib.sha256(data).hexdigest()[:16]}.{kind}"
    return key, put(root, key, data)


# --- serving and the shared cache ----------------------------------------------------------------


def test_valid_token_serves_segment_from_origin_with_secret(
    edge: NginxProcess, origin: StandInOrigin, media_root: Path
) -> None:
    key, data = fresh(media_root)
    r = request(edge, media(key), headers={"Cookie": "session=abc", "Authorization": "Bearer x"})
    assert r.status == 200
    assert r.body == data
    assert r.header("Content-Type") == "audio/mp4"
    assert r.header("Cache-Control") == "public, max-age=31536000, immutable"
    assert r.header("X-Cache-Status") == "MISS"
    [hit] = origin.origin_hits(key)
    assert hit.headers["x-cadenza-origin"] == ORIGIN_SECRET
    assert "range" not in hit.headers


def test_another_token_for_the_same_object_is_a_cache_hit(
    edge: NginxProcess, origin: StandInOrigin, media_root: Path
) -> None:
    key, data = fresh(media_root)
    assert request(edge, media(key)).header("X-Cache-Status") == "MISS"
    # Another listener's token: other kid, other expiry, a track-prefix token instead of an exact one.
    other = media(key, keyring=K2, depth=3, ttl=900)
    assert other != media(key)
    r = request(edge, other)
    assert (r.status, r.header("X-Cache-Status"), r.body) == (200, "HIT", data)
    assert len(origin.origin_hits(key)) == 1


def test_a_burst_of_first_requests_reaches_the_origin_once(
    edge: NginxProcess, origin: StandInOrigin, media_root: Path
) -> None:
    key, data = fresh(media_root)
    origin.slow[key] = 0.3  # without proxy_cache_lock every request would miss during this window
    paths = [media(key, ttl=600 + i) for i in range(20)]  # 20 listeners, 20 different tokens
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda p: request(edge, p), paths))
    assert [r.status for r in responses] == [200] * 20
    assert all(r.body == data for r in responses)
    assert len(origin.origin_hits(key)) == 1


def test_variant_playlist_and_waveform_are_cached_with_the_origins_freshness(
    edge: NginxProcess, origin: StandInOrigin
) -> None:
    for key, ctype, cc in [
        (VARIANT, "application/vnd.apple.mpegurl", "public, max-age=10"),
        (WAVEFORM, "application/json", "public, max-age=86400"),
        (INIT, "audio/mp4", "public, max-age=31536000, immutable"),
    ]:
        first, second = request(edge, media(key, depth=3)), request(edge, media(key))
        assert (first.status, first.header("Content-Type"), first.header("Cache-Control")) == (200, ctype, cc)
        assert second.header("X-Cache-Status") == "HIT"
        assert len(origin.origin_hits(key)) == 1


def test_an_expired_playlist_is_refetched_and_the_new_version_served(
    edge: NginxProcess, origin: StandInOrigin, media_root: Path
) -> None:
    key = f"{PREFIX}/hls/aac_320/index.m3u8"
    old = put(media_root, key, b"#EXTM3U\n#EXT-X-VERSION:7\n")
    origin.cache_control[key] = "public, max-age=1"
    assert request(edge, media(key)).body == old
    assert request(edge, media(key)).header("X-Cache-Status") == "HIT"
    new = put(media_root, key, b"#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-ENDLIST\n")
    # After max-age the edge serves the stale copy once while it refreshes in the background
    # (proxy_cache_use_stale updating), then the new one; open_file_cache must not pin the old file.
    deadline = time.monotonic() + 10
    while (r := request(edge, media(key))).body != new:
        assert r.body == old and time.monotonic() < deadline
        time.sleep(0.1)
    assert request(edge, media(key)).header("X-Cache-Status") == "HIT"
    assert request(edge, media(key)).body == new


def test_conditional_request_is_answered_from_the_cache(edge: NginxProcess, media_root: Path) -> None:
    key, _ = fresh(media_root)
    etag = request(edge, media(key)).header("ETag")
    assert etag
    r = request(edge, media(key), headers={"If-None-Match": etag})
    assert (r.status, r.body) == (304, b"")


def test_head_is_served_without_a_body(edge: NginxProcess, media_root: Path) -> None:
    key, data = fresh(media_root)
    r = request(edge, media(key), method="HEAD")
    assert (r.status, r.header("Content-Length"), r.body) == (200, str(len(data)), b"")


def test_missing_object_with_a_valid_token_is_404(edge: NginxProcess) -> None:
    assert request(edge, media(f"{PREFIX}/hls/aac_128/ffffffffffffffff.m4s")).status == 404


# --- refusals: before any origin request ---------------------------------------------------------


def _tamper_sig(path: str) -> str:
    token = path.split("/")[2]
    sig = token.rsplit("~", 1)[1]
    flipped = ("A" if sig[10] != "A" else "B").join((sig[:10], sig[11:]))
    return path.replace(sig, flipped)


REFUSALS = {
    "bad signature": lambda: _tamper_sig(media(SEGMENT)),
    "expired": lambda: signing.signed_path(K1, key=SEGMENT, depth=0, ttl=-5, ip=ME),
    "other IP": lambda: media(SEGMENT, ip="10.1.2.3"),
    "no IP bound": lambda: media(SEGMENT, ip=None),
    "other track prefix": lambda: media("tracks/8/0123abcd/hls/aac_128/x.m4s", depth=3).replace(
        "tracks/8/0123abcd/hls/aac_128/x.m4s", SEGMENT
    ),
    "prefix token on a sibling track version": lambda: media(SEGMENT, depth=3).replace(
        "0123abcd", "0123abce"
    ),
    "unknown kid": lambda: media(SEGMENT, keyring=signing.Keyring("k3", {"k3": "third"})),
    "kid naming an Object member": lambda: media(SEGMENT).replace("/k1~", "/constructor~"),
    "depth past the key": lambda: media(SEGMENT).replace("~0~", "~9~"),
    "malformed token": lambda: f"/media/k1~123~0~short/{SEGMENT}",
    "token with an extra field": lambda: media(SEGMENT).replace("/k1~", "/k1~0~"),
    "empty token": lambda: f"/media/~~~/{SEGMENT}",
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refused_before_any_origin_request(edge: NginxProcess, origin: StandInOrigin, case: str) -> None:
    before = len(origin.hits())
    r = request(edge, REFUSALS[case]())
    assert r.status == 403, r.body
    assert r.header("Content-Type") == "application/json"
    assert r.json()["error"] == "forbidden" and r.json()["reason"]
    assert r.header("Cache-Control") == "no-store"  # a CDN must not remember a refusal
    assert r.header("X-Cache-Status") is None
    assert len(origin.hits()) == before


def test_only_get_and_head_reach_media(edge: NginxProcess, origin: StandInOrigin) -> None:
    before = len(origin.hits())
    assert request(edge, media(SEGMENT), method="POST", body=b"x").status == 403
    assert request(edge, media(SEGMENT), method="DELETE").status == 403
    assert len(origin.hits()) == before


@pytest.mark.parametrize(
    "path",
    [
        # A valid prefix token for tracks/7/0123abcd/ stretched to another track by dot segments.
        "{tok}/tracks/7/0123abcd/../../8/0123abcd/hls/aac_128/x.m4s",
        "{tok}/tracks/7/0123abcd/%2e%2e/%2e%2e/8/0123abcd/hls/aac_128/x.m4s",
        "{tok}/tracks/7/0123abcd/%2E%2E%2F%2E%2E%2F8/0123abcd/hls/aac_128/x.m4s",
        "{tok}/tracks/7/0123abcd/..%2f..%2f8/0123abcd/hls/aac_128/x.m4s",
        "{tok}/tracks/7/0123abcd/hls%2faac_128%2f5adbfe6e531f6d79.m4s",
        "{tok}/tracks/7/0123abcd/hls/aac_128/5adbfe6e531f6d79.m4s%00.json",
        "{tok}/tracks/7/0123abcd/hls\\..\\..\\x.m4s",
        "{tok}/tracks/7/0123abcd/hls/%5c..%5cx.m4s",
        "{tok}/tracks/7/0123abcd//hls/aac_128/5adbfe6e531f6d79.m4s",
        "{tok}/tracks/7/0123abcd/./hls/aac_128/5adbfe6e531f6d79.m4s",
        "{tok}/tracks/7/0123abcd/.hidden",
        "{tok}/../../../../etc/passwd",
        "{tok}/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "{tok}/tracks/7/0123abcd/%252e%252e/x.m4s",
    ],
)
def test_traversal_never_reaches_the_origin(edge: NginxProcess, origin: StandInOrigin, path: str) -> None:
    token = media(SEGMENT, depth=3).split("/")[2]
    before = len(origin.hits())
    r = request(edge, "/media/" + path.format(tok=token))
    assert 400 <= r.status < 500, (path, r.status, r.body)
    assert len(origin.hits()) == before


def test_the_origin_route_is_not_public(edge: NginxProcess, origin: StandInOrigin) -> None:
    before = len(origin.hits())
    r = request(edge, f"/origin/{SEGMENT}", headers={"X-Cadenza-Origin": ORIGIN_SECRET})
    assert r.status == 404
    assert request(edge, f"/_accel/{SEGMENT}").status == 404  # internal only
    assert len(origin.hits()) == before


# --- Range ------------------------------------------------------------------------------------------


def _range(edge: NginxProcess, key: str, spec: str) -> Response:
    return request(edge, media(key), headers={"Range": f"bytes={spec}"})


@pytest.mark.parametrize("cached", [False, True])
def test_ranges_on_a_segment(edge: NginxProcess, media_root: Path, cached: bool) -> None:
    key, data = fresh(media_root, size=200_000)
    if cached:
        request(edge, media(key))
    n = len(data)
    r = _range(edge, key, "0-99")
    assert (r.status, r.header("Content-Range"), r.body) == (206, f"bytes 0-99/{n}", data[:100])
    r = _range(edge, key, "-500")
    assert (r.status, r.header("Content-Range"), r.body) == (206, f"bytes {n - 500}-{n - 1}/{n}", data[-500:])
    r = _range(edge, key, "150000-")
    assert (r.status, r.body) == (206, data[150000:])
    r = _range(edge, key, f"{n}-")
    assert (r.status, r.header("Content-Range")) == (416, f"bytes */{n}")


def test_ranges_on_a_progressive_file_fetch_1m_slices(
    edge: NginxProcess, origin: StandInOrigin, media_root: Path
) -> None:
    data = (media_root / MP3).read_bytes()
    n, mib = len(data), 1 << 20
    r = _range(edge, MP3, "0-99")
    assert (r.status, r.header("Content-Range"), r.body) == (206, f"bytes 0-99/{n}", data[:100])
    assert r.header("Content-Type") == "audio/mpeg"
    r = _range(edge, MP3, f"{mib - 50}-{mib + 49}")  # across a slice boundary
    assert (r.status, r.body) == (206, data[mib - 50 : mib + 50])
    r = _range(edge, MP3, "-1000")
    assert (r.status, r.header("Content-Range"), r.body) == (
        206,
        f"bytes {n - 1000}-{n - 1}/{n}",
        data[-1000:],
    )
    r = request(edge, media(MP3, ttl=700))
    assert (r.status, r.body) == (200, data)
    assert _range(edge, MP3, f"{n + 10}-").status == 416
    asked = {h.headers.get("range") for h in origin.origin_hits(MP3)}
    slices = {f"bytes={i * mib}-{(i + 1) * mib - 1}" for i in range(3)}
    # Each slice was fetched once (then served from the cache); plus the out-of-file probe.
    assert slices <= asked and len(asked - slices) <= 1
    assert len(origin.origin_hits(MP3)) == len(asked)


# --- key rotation, IP binding --------------------------------------------------------------------


def test_either_active_kid_opens_media(edge: NginxProcess) -> None:
    for keyring in (K1, K2):
        assert request(edge, media(SEGMENT, keyring=keyring)).status == 200


def test_without_ip_binding_tokens_carry_no_address(tmp_path: Path, origin: StandInOrigin) -> None:
    e = start_nginx(tmp_path, upstream=origin.url, keys=KEYS, origin_secret=ORIGIN_SECRET, bind_ip=False)
    try:
        assert request(e, media(SEGMENT, ip=None)).status == 200
        assert request(e, media(SEGMENT, ip=ME)).status == 403
    finally:
        e.stop()


# --- what goes to the app --------------------------------------------------------------------------


def test_master_playlist_goes_to_the_app_with_the_client_address(
    edge: NginxProcess, origin: StandInOrigin
) -> None:
    path = media(MASTER)
    r = request(edge, path, headers={"X-Forwarded-For": "6.6.6.6", "X-Real-IP": "6.6.6.6"})
    assert r.status == 200, r.body  # the stand-in verified the token against the forwarded address
    assert r.header("X-Cache-Status") is None  # never cached at the edge
    [seen] = origin.hits(path)
    assert seen.headers["x-forwarded-for"] == ME and seen.headers["x-real-ip"] == ME
    assert request(edge, path).status == 200
    assert len(origin.hits(path)) == 2


def test_api_and_docs_are_proxied_without_the_origin_secret(
    edge: NginxProcess, origin: StandInOrigin
) -> None:
    r = request(edge, "/api/echo", headers={"X-Cadenza-Origin": "guess", "X-Forwarded-For": "6.6.6.6"})
    assert r.status == 200
    echoed = r.json()
    assert "x-cadenza-origin" not in echoed
    assert echoed["x-forwarded-for"] == ME
    for path in ("/docs", "/openapi.json"):
        request(edge, path)
        assert origin.hits(path), path


def test_x_accel_redirect_serves_from_the_shared_cache(edge: NginxProcess, origin: StandInOrigin) -> None:
    key = INIT
    request(edge, media(key))  # cached through /media/
    r = request(edge, f"/accel/{key}", headers={"Range": "bytes=0-9"})
    assert r.status == 206 and r.header("X-Cache-Status") == "HIT"
    assert r.body == (origin.root / key).read_bytes()[:10]
    assert r.header("Content-Disposition") == 'attachment; filename="b1315e433e5aba9e.mp4"'
    # The app's response authorized one caller: its Cache-Control, not the origin's public one.
    assert r.headers.get_all("Cache-Control") == ["private, no-store"]
    assert len(origin.origin_hits(key)) == 1


# --- njs and Python agree ----------------------------------------------------------------------------


def njs_verify(edge: NginxProcess, cases: list[dict[str, object]]) -> list[str]:
    body = json.dumps(cases).encode()
    r = request(edge, "/verify", method="POST", headers={"Host": "selftest"}, body=body)
    assert r.status == 200, r.body
    return json.loads(r.body)


def py_verify(case: dict[str, object]) -> str:
    try:
        signing.verify(
            K1,
            token=str(case["token"]),
            key=str(case["key"]),
            ip=str(case["ip"]),
            now=float(case["now"]),  # type: ignore[arg-type]
        )
    except signing.SignatureError as exc:
        return exc.reason
    return ""


NOW = 1_800_000_000.25


def _cases() -> list[dict[str, object]]:
    def tok(keyring: signing.Keyring, key: str, depth: int, exp: float, ip: str | None) -> str:
        return signing.sign(keyring, key=key, depth=depth, expires_at=int(exp), ip=ip)

    out: list[dict[str, object]] = []
    for keyring in (K1, K2, signing.Keyring("k9", {"k9": "gone"})):
        for depth in (0, 1, 3, 5, 6, 7):
            for exp in (NOW + 60, NOW, NOW - 0.25, NOW - 1, 99):
                for sign_ip, ip in ((ME, ME), ("10.1.2.3", ME), (None, ""), (None, ME), ("::1", "::1")):
                    for key in (SEGMENT, "tracks/8/0123abcd/hls/aac_128/5adbfe6e531f6d79.m4s", MASTER):
                        try:
                            t = tok(keyring, SEGMENT, depth, exp, sign_ip)
                        except signing.SignatureError:
                            t = f"{keyring.active}~{int(exp)}~{depth}~{'A' * 43}"
                        out.append({"token": t, "key": key, "ip": ip, "now": NOW})
    good = tok(K1, SEGMENT, 3, NOW + 60, ME)
    kid, exp, depth, sig = good.split("~")
    for token in [
        f"{kid}~0{exp}~{depth}~{sig}",  # leading zeros: both sign int(exp)
        f"{kid}~{exp}~0{depth}~{sig}",
        f"{kid}~{exp}~{depth}~{sig}=",
        f"{kid}~{exp}~{depth}~{sig[:-1]}",
        f"{kid}~{exp}~{depth}~{sig[:-1]}{'B' if sig[-1] == 'A' else 'A'}",  # last char: 4 data bits + 2 spare
        f"{kid}~{exp}~{depth}~{sig}~",
        f"{kid}~{exp}~{depth}",
        f"~{exp}~{depth}~{sig}",
        f"{'k' * 33}~{exp}~{depth}~{sig}",
        f"{kid}~{'9' * 13}~{depth}~{sig}",
        f"{kid}~{exp}~100~{sig}",
        f"{kid}~-{exp}~{depth}~{sig}",
        f"{kid}~{exp}.5~{depth}~{sig}",
        f"__proto__~{exp}~{depth}~{sig}",
        f"constructor~{exp}~{depth}~{sig}",
        f"hasOwnProperty~{exp}~{depth}~{sig}",
        f"{kid}~{exp}~{depth}~{sig.replace(sig[5], '+' if sig[5] != '+' else '/')}",
        good.upper(),
        "",
        good,
    ]:
        out.append({"token": token, "key": SEGMENT, "ip": ME, "now": NOW})
    for key in ("tracks", "tracks/", "tracks/7", "/tracks/7/0123abcd/x", "tracks//7/0123abcd/x", "a/b/c/"):
        for depth in (0, 1, 2, 3):
            try:
                t = tok(K1, key, depth, NOW + 1, ME)
            except signing.SignatureError:
                continue
            out.append({"token": t, "key": key, "ip": ME, "now": NOW})
            out.append({"token": t, "key": key + "x", "ip": ME, "now": NOW})
    return out


def test_njs_and_python_agree_on_every_case(edge: NginxProcess) -> None:
    cases = _cases()
    assert len(cases) > 1000
    njs = njs_verify(edge, cases)
    py = [py_verify(c) for c in cases]
    mismatches = [(c, n, p) for c, n, p in zip(cases, njs, py, strict=True) if n != p]
    assert not mismatches, mismatches[:5]
    assert {"", "malformed token", "unknown key id", "bad signature", "token expired"} <= set(py)
    assert "token depth reaches past the object key" in py


TOKEN_CHARS = string.ascii_letters + string.digits + "-_~"
ASCII_PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.text(alphabet=TOKEN_CHARS, max_size=60) | st.sampled_from([media(SEGMENT).split("/")[2]]),
            st.text(alphabet=ASCII_PRINTABLE, min_size=1, max_size=40) | st.just(SEGMENT),
            st.sampled_from([ME, "", "10.1.2.3"]),
            st.floats(min_value=0, max_value=2e12, allow_nan=False),
        ),
        min_size=1,
        max_size=50,
    )
)
def test_njs_and_python_agree_on_generated_cases(
    edge: NginxProcess, batch: list[tuple[str, str, str, float]]
) -> None:
    cases: list[dict[str, object]] = [{"token": t, "key": k, "ip": ip, "now": now} for t, k, ip, now in batch]
    assert njs_verify(edge, cases) == [py_verify(c) for c in cases]


@pytest.mark.parametrize("variant", ["trailing newline", "unicode digits"])
def test_both_refuse_near_misses_of_the_token_grammar(edge: NginxProcess, variant: str) -> None:
    # Python's `\d` takes any Unicode digit (int() too) and `$` matches before a final newline; njs's PCRE
    # `$` does the same. Both must insist on ASCII digits and the whole string.
    good = signing.sign(K1, key=SEGMENT, depth=0, expires_at=int(NOW + 60), ip=ME)
    token = good + "\n" if variant == "trailing newline" else good.replace("~0~", "~\u0660~")
    case = {"token": token, "key": SEGMENT, "ip": ME, "now": NOW}
    assert njs_verify(edge, [case]) == [py_verify(case)] == ["malformed token"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=0, max_value=200), char=st.characters(codec="utf-8"))
def test_any_one_character_change_to_a_token_is_refused(
    edge: NginxProcess, origin: StandInOrigin, position: int, char: str
) -> None:
    path = media(SEGMENT, depth=3, ttl=3600)
    token = path.split("/")[2]
    i = position % len(token)
    assume(token[i] != char)
    mutated = token[:i] + char + token[i + 1 :]
    before = len(origin.hits())
    r = request(edge, f"/media/{quote(mutated, safe='~')}/{SEGMENT}")
    # nginx's URI parser itself refuses a NUL (%00) with 400 before any location runs.
    expected = 400 if "\x00" in mutated else 403
    assert r.status == expected, (mutated, r.status, r.body)
    assert len(origin.hits()) == before


# --- the deploy script -----------------------------------------------------------------------------


def test_nginx_env_script_renders_a_config_nginx_accepts(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CADENZA_UPSTREAM": "127.0.0.1:8000",
        "CADENZA_SIGNING_KEYS": json.dumps(KEYS),
        "CADENZA_ORIGIN_SECRET": ORIGIN_SECRET,
        "CACHE_DIR": str(tmp_path / "cache"),
        "LISTEN": f"127.0.0.1:{nginx_fixture.free_port()}",
        "NGINX_USER": getpass.getuser(),
    }
    out = tmp_path / "conf"
    subprocess.run([str(nginx_fixture.ROOT / "scripts" / "nginx_env.sh"), str(out)], env=env, check=True)
    text = (out / "cadenza.conf").read_text()
    assert ORIGIN_SECRET in text and "${" not in text.replace("${...}", "")
    for d in ("logs", "temp", "conf.d"):
        (out / d).mkdir()
    check = subprocess.run(
        [
            str(nginx_fixture.NGINX),
            "-t",
            "-p",
            f"{out}/",
            "-c",
            str(out / "nginx.conf"),
            "-e",
            str(out / "e.log"),
        ],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    bad = subprocess.run(
        [str(nginx_fixture.ROOT / "scripts" / "nginx_env.sh"), str(tmp_path / "bad")],
        env={**env, "CADENZA_ORIGIN_SECRET": "a$b"},
        capture_output=True,
    )
    assert bad.returncode == 2
