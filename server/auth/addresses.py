"""The client's address: the peer's, or behind a trusted proxy the one the proxies saw.

``X-Forwarded-For`` is written by whoever sends the request, so it counts only when the peer is one of the
configured ``trusted_proxies``; then each trusted proxy has appended the address it saw, and the right-most
address that is not a trusted proxy is the client (anything left of it may be forged). A hop that is not an
IP address ends the walk: no proxy of ours wrote it as an address it saw, so the trusted address to its right
(the proxy that passed it on) is the client as far as we can tell.

List only the reverse proxies' own addresses: a client inside a trusted range can write its own header.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_HOPS = 32


def parse_network(entry: str) -> Network:
    """An address or CIDR network; ``ValueError`` naming the entry otherwise."""
    try:
        return ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        raise ValueError(f"not an IP address or network: {entry!r}") from None


@functools.lru_cache(maxsize=8)
def trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(parse_network(entry) for entry in entries)


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _ip(address: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        return None


def _is_trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip in network for network in trusted)


def client_address(peer: str | None, forwarded_for: Iterable[str], trusted_proxies: tuple[str, ...]) -> str:
    """The address a request comes from, given its peer and its ``X-Forwarded-For`` headers."""
    address = peer or "unknown"
    trusted = trusted_networks(trusted_proxies)
    if not trusted or not _is_trusted(address, trusted):
        return address
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops[-MAX_HOPS:]):
        ip = _ip(hop)
        if ip is None:
            # Not an address ("garbage", "unknown", "1.2.3.4:80"): whoever wrote it is as far as we can see.
            return address
        if not any(ip in network for network in trusted):
            return str(ip)
        address = str(ip)
    # Every hop is a trusted proxy: the left-most is as close to the client as we can tell.
    return address
