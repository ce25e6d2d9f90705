"""The client's address: the peer, or the X-Forwarded-For entry set by the last trusted proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence


def parse_trusted(entries: Sequence[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(e, strict=False) for e in entries]


def _trusted(ip: str, trusted: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr.version == n.version and addr in n for n in trusted)


def client_ip(
    peer: str, forwarded_for: str | None, trusted: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> str:
    """Walk X-Forwarded-For from the right while the hop is a trusted proxy; the first other hop is the
    client. A header from an untrusted peer is ignored (anyone can write one)."""
    if not forwarded_for or not _trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a garbled header: trust nothing in it
        if not _trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer
