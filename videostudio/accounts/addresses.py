"""The client's address, for login throttling: trusted proxies only."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, unless it is a trusted proxy: then the address that proxy (and
    any trusted ones before it) saw, read from X-Forwarded-For right to left.

    Entries a client wrote itself sit to the left of what the proxies appended,
    so they are never reached while the proxies are configured correctly.
    """
    remote = request.META.get("REMOTE_ADDR") or None
    trusted = settings.VIDEOSTUDIO_TRUSTED_PROXIES
    if not trusted or remote is None:
        return remote
    header = request.META.get("HTTP_X_FORWARDED_FOR", "")
    chain = [*(hop.strip() for hop in header.split(",") if hop.strip()), remote]
    if isinstance(trusted, int):
        # The last `trusted` entries are the proxies; the one before them the client.
        candidate = chain[max(len(chain) - trusted - 1, 0)]
        return candidate if _parse(candidate) is not None else remote
    networks = _networks(tuple(trusted))
    for hop in reversed(chain):
        address = _parse(hop)
        if address is None:
            # Junk in the header: the last address we could vouch for.
            break
        if not any(address in network for network in networks):
            return str(address)
        remote = str(address)
    return remote


def _parse(value: str) -> Address | None:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


@lru_cache(maxsize=8)
def _networks(items: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in items)
