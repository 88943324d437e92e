"""ICE: the STUN/TURN servers handed to browsers, coturn REST credentials, and the server's own addresses.

TURN credentials follow coturn's ``use-auth-secret`` scheme (the "TURN REST API" draft): the user name is
``<expiry unix time>:<user id>`` and the password is base64(HMAC-SHA1(secret, user name)), so coturn checks
them with the shared secret and no per-user state. The server side of each peer connection offers only the
host addresses the operator allows, like Janus's ``ice_enforce_list`` / ``ice_ignore_list``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import aioice.ice
import ifaddr


@dataclass(frozen=True)
class IceServer:
    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"urls": list(self.urls)}
        if self.username is not None:
            body["username"] = self.username
            body["credential"] = self.credential
        return body


def turn_credentials(secret: str, user_id: int, ttl: int, now: float | None = None) -> tuple[str, str]:
    """A coturn ``use-auth-secret`` user name and password valid for ``ttl`` seconds."""
    expiry = int((time.time() if now is None else now) + ttl)
    username = f"{expiry}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers_for(
    user_id: int, stun: Iterable[str], turn: Iterable[str], secret: str, ttl: int
) -> list[IceServer]:
    """What a browser of ``user_id`` gets: the STUN servers, and the TURN servers with fresh credentials."""
    servers = [IceServer(tuple(stun))] if tuple(stun) else []
    turn_urls = tuple(turn)
    if turn_urls:
        username, password = turn_credentials(secret, user_id, ttl)
        servers.append(IceServer(turn_urls, username, password))
    return servers


def _matches(address: str, adapter_name: str, rules: Iterable[str]) -> bool:
    """A rule is an interface name, an address, or a network in CIDR form."""
    ip = ipaddress.ip_address(address.split("%")[0])
    for rule in rules:
        if rule == adapter_name:
            return True
        try:
            if ip in ipaddress.ip_network(rule, strict=False):
                return True
        except ValueError:
            continue
    return False


def host_address_filter(
    enforce: tuple[str, ...], ignore: tuple[str, ...]
) -> Callable[[bool, bool], list[str]]:
    """A replacement for ``aioice.ice.get_host_addresses`` that keeps only the allowed addresses.

    With an empty ``enforce`` list every address aioice would offer is allowed (aioice itself skips
    127.0.0.1); otherwise only those matching it, loopback included when asked for by name or address.
    """

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        addresses: list[str] = []
        for adapter in ifaddr.get_adapters():
            for ip in adapter.ips:
                if isinstance(ip.ip, str):
                    if not use_ipv4:
                        continue
                    address = ip.ip
                else:
                    if not use_ipv6 or ip.ip[2] != 0:
                        continue
                    address = ip.ip[0]
                if enforce:
                    if not _matches(address, adapter.nice_name, enforce):
                        continue
                elif address in ("127.0.0.1", "::1"):
                    continue
                if ignore and _matches(address, adapter.nice_name, ignore):
                    continue
                addresses.append(address)
        return addresses

    return get_host_addresses


def restrict_host_addresses(enforce: tuple[str, ...], ignore: tuple[str, ...]) -> None:
    """Make every ICE agent of this process gather only the allowed host addresses.

    aioice reads its host addresses from this one module-level function and has no option for it, so the
    function is replaced; pinned to aioice 0.13 (checked in tests/test_media_ice.py).
    """
    aioice.ice.get_host_addresses = host_address_filter(enforce, ignore)  # type: ignore[assignment]
