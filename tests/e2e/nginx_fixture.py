"""Run the real edge (Debian's nginx + njs) from deploy/nginx/ in a temporary prefix, for tests and benches.

    edge = start_nginx(tmp, upstream="http://127.0.0.1:8000", keys={"k1": "secret"}, origin_secret="s")
    try:
        ...  # requests to edge.url
    finally:
        edge.stop()

Each instance has its own prefix, config, pid, logs, temp and cache directories and a free loopback port,
so tests can run several side by side; nothing touches the system nginx or port 80.
"""

from __future__ import annotations

import getpass
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "nginx"
NGINX = Path("/usr/sbin/nginx")
NJS_MODULE = Path("/usr/lib/nginx/modules/ngx_http_js_module.so")

_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
# Secrets sit inside a quoted nginx string, where a quote ends it, \ escapes and $ starts a variable.
_UNSAFE = re.compile(r"['\"\\$\x00-\x1f\x7f]")


def missing() -> str | None:
    """Why the edge cannot run here (for pytest.skip), or None."""
    if not NGINX.exists():
        return f"{NGINX} not installed (apt-get install nginx)"
    if not NJS_MODULE.exists():
        return f"{NJS_MODULE} not installed (apt-get install libnginx-mod-http-js)"
    return None


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill `${NAME}` placeholders (nginx's own `$name` variables are left alone); all must be given."""
    unknown = sorted(set(_PLACEHOLDER.findall(template)) - set(values))
    if unknown:
        raise KeyError(f"no value for {', '.join(unknown)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def signing_keys_text(keys: Mapping[str, str]) -> str:
    """The keyring as the JSON text njs reads; refuses what cannot sit in an nginx string."""
    if not keys:
        raise ValueError("at least one signing key is needed")
    for kid, secret in keys.items():
        if _UNSAFE.search(kid) or _UNSAFE.search(secret):
            raise ValueError(f"signing key {kid!r}: must not contain ' \" $ \\ or control characters")
    # With those excluded, JSON needs no backslash escapes (which nginx would read as its own).
    return json.dumps(dict(keys), ensure_ascii=False, separators=(",", ":"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class NginxProcess:
    """A running edge: `url` to send requests to, `stop()` to end it (idempotent)."""

    prefix: Path
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def cache_dir(self) -> Path:
        return self.prefix / "cache"

    def error_log(self) -> str:
        return _read(self.prefix / "logs" / "error.log")

    def access_log(self) -> str:
        return _read(self.prefix / "logs" / "access.log")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        """Fast shutdown (SIGTERM: the master ends its workers, then itself); forceful if that stalls."""
        died_before = self.proc.poll() is not None
        if not died_before:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
                return
            except subprocess.TimeoutExpired:
                pass
        # A master that stalled or died hard may leave workers holding the port. They are in its
        # process group (start_new_session), which exists exactly as long as one of them does.
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=5)


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _upstream_servers(upstream: str | Sequence[str]) -> str:
    """One app or several (a cluster's API processes) as the value of `server ${CADENZA_UPSTREAM};`:
    'a:1' or 'a:1; server b:2' (nginx balances between them and skips one that refuses connections)."""
    if isinstance(upstream, str):
        return _upstream_host(upstream)
    if not upstream:
        raise ValueError("at least one upstream is needed")
    return "; server ".join(f"{_upstream_host(u)} max_fails=1 fail_timeout=5s" for u in upstream)


def _upstream_host(upstream: str) -> str:
    """'http://127.0.0.1:8000' or '127.0.0.1:8000' → '127.0.0.1:8000' for the upstream block."""
    parts = urlsplit(upstream if "//" in upstream else f"//{upstream}")
    if not parts.hostname or not parts.port or parts.path not in ("", "/"):
        raise ValueError(f"upstream must be host:port or http://host:port, got {upstream!r}")
    return f"{parts.hostname}:{parts.port}"


def write_prefix(
    prefix: Path,
    *,
    upstream: str | Sequence[str],
    keys: Mapping[str, str],
    origin_secret: str,
    port: int,
    bind_ip: bool = True,
    worker_processes: int | str = 1,
    cache_max_size: str = "1g",
    extra_conf: Mapping[str, str] | None = None,
    media_root: Path | None = None,
) -> Path:
    """Render deploy/nginx/ into `prefix`; returns the nginx.conf path.

    `extra_conf` maps file name → text of additional http-level files (conf.d/), rendered with the same
    placeholders (e.g. `${LISTEN}`, `${CADENZA_NJS}`)."""
    for d in ("logs", "temp", "cache", "conf.d", "no-local-media"):
        (prefix / d).mkdir(parents=True, exist_ok=True)
    if _UNSAFE.search(origin_secret):
        raise ValueError("origin secret must not contain quotes, $, \\ or control characters")
    shutil.copyfile(DEPLOY / "cadenza.js", prefix / "cadenza.js")
    values = {
        "LISTEN": f"127.0.0.1:{port}",
        "CADENZA_UPSTREAM": _upstream_servers(upstream),
        "CADENZA_SIGNING_KEYS": signing_keys_text(keys),
        "CADENZA_BIND_IP": "1" if bind_ip else "0",
        "CADENZA_ORIGIN_SECRET": origin_secret,
        "CADENZA_NJS": str(prefix / "cadenza.js"),
        "CACHE_DIR": str(prefix / "cache"),
        "CADENZA_MEDIA_ROOT": str(media_root or (prefix / "no-local-media")),
        "CACHE_MAX_SIZE": cache_max_size,
        "NGINX_USER": getpass.getuser(),
        "WORKER_PROCESSES": str(worker_processes),
        "NJS_MODULE": str(NJS_MODULE),
    }
    for name in ("nginx.conf", "cadenza.conf"):
        (prefix / name).write_text(render((DEPLOY / name).read_text(), values))
    for name, text in (extra_conf or {}).items():
        (prefix / "conf.d" / name).write_text(render(text, values))
    return prefix / "nginx.conf"


def start_nginx(
    tmp: Path,
    *,
    upstream: str | Sequence[str],
    keys: Mapping[str, str],
    origin_secret: str,
    port: int | None = None,
    bind_ip: bool = True,
    worker_processes: int | str = 1,
    extra_conf: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    media_root: Path | None = None,
) -> NginxProcess:
    """Start `nginx -g 'daemon off;'` on 127.0.0.1 in front of `upstream`; returns once it answers.

    `tmp` becomes the nginx prefix. With `port=None` a free port is picked (and re-picked if another
    process takes it first). `media_root`: the app's local media store, which nginx then reads itself;
    without it every object comes through the shield cache."""
    if reason := missing():
        raise RuntimeError(reason)
    tmp = tmp.resolve()
    attempts = 1 if port is not None else 5
    last = ""
    for _ in range(attempts):
        chosen = port if port is not None else free_port()
        conf = write_prefix(
            tmp,
            upstream=upstream,
            keys=keys,
            origin_secret=origin_secret,
            port=chosen,
            bind_ip=bind_ip,
            worker_processes=worker_processes,
            extra_conf=extra_conf,
            media_root=media_root,
        )
        proc = subprocess.Popen(
            [str(NGINX), "-p", f"{tmp}/", "-c", str(conf), "-e", str(tmp / "logs" / "error.log"),
             "-g", "daemon off;"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, so stop() can end stray workers
        )  # fmt: skip
        edge = NginxProcess(prefix=tmp, port=chosen, proc=proc)
        try:
            if _wait_ready(edge, timeout):
                return edge
        except BaseException:
            edge.stop()
            raise
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        edge.stop()
        last = f"{stderr}\n{edge.error_log()}"
        if "Address already in use" not in last:
            break
    raise RuntimeError(f"nginx did not start:\n{last}")


def _wait_ready(edge: NginxProcess, timeout: float) -> bool:
    """Poll the health location until it answers; False if nginx exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not edge.alive():
            return False
        try:
            conn = http.client.HTTPConnection("127.0.0.1", edge.port, timeout=1)
            conn.request("GET", "/_edge/health")
            if conn.getresponse().status == 200:
                conn.close()
                return True
        except OSError:
            pass
        time.sleep(0.02)
    raise TimeoutError(f"nginx on port {edge.port} did not answer within {timeout}s:\n{edge.error_log()}")


@contextmanager
def running_nginx(tmp: Path, **kwargs: object) -> Iterator[NginxProcess]:
    """`start_nginx` as a context manager: stopped on exit, even when the body fails."""
    edge = start_nginx(tmp, **kwargs)  # type: ignore[arg-type]
    try:
        yield edge
    finally:
        edge.stop()
