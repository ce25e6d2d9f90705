"""Territory from a client IP: configured overrides first, then the bundled offline database (geoip2fast)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import cached_property, lru_cache

from cadenza.errors import InvalidInput


class GeoLookup:
    """Maps an IP address to an ISO 3166-1 alpha-2 code, or None when unknown (private, unlisted)."""

    def __init__(self, overrides: dict[str, str] | None = None) -> None:
        self._overrides: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]] = []
        for net, code in (overrides or {}).items():
            try:
                network = ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise InvalidInput(f"geo override {net!r} is not an IP address or network") from None
            if len(code) != 2 or not code.isalpha():
                raise InvalidInput(f"geo override for {net} must be a two-letter country code")
            self._overrides.append((network, code.upper()))
        # Most specific network first.
        self._overrides.sort(key=lambda item: item[0].prefixlen, reverse=True)
        # A listener's address repeats (the next track, the next session): each is looked up once.
        self.territory: Callable[[str], str | None] = lru_cache(maxsize=100_000)(self._territory)

    @cached_property
    def _db(self):  # type: ignore[no-untyped-def]
        from geoip2fast import GeoIP2Fast

        return GeoIP2Fast()

    def _territory(self, ip: str) -> str | None:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None
        for network, code in self._overrides:
            if addr.version == network.version and addr in network:
                return code
        if addr.is_private or addr.is_loopback or addr.is_reserved or addr.version != 4:
            return None
        code = self._db.lookup(str(addr)).country_code
        return code if isinstance(code, str) and len(code) == 2 and code.isalpha() else None
