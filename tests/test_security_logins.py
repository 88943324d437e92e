"""Failed logins slow down whoever fails, not the account's owner, and X-Forwarded-For counts only from a
trusted proxy."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import ClientSession, CookieJar, TCPConnector, web
from aiohttp.test_utils import TestServer

from server.auth.addresses import client_address
from server.auth.throttle import LoginThrottle
from server.config import Config
from server.services import SERVICES
from tests.support import PASSWORD

FromAddress = Callable[[str], Awaitable[ClientSession]]


@pytest.fixture
async def from_address(server: TestServer) -> AsyncIterator[FromAddress]:
    """HTTP clients whose connections come from a chosen loopback address (all of 127/8 is loopback)."""
    made: list[ClientSession] = []

    async def make(address: str) -> ClientSession:
        client = ClientSession(
            base_url=str(server.make_url("/")),
            cookie_jar=CookieJar(unsafe=True),
            connector=TCPConnector(local_addr=(address, 0)),
        )
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


async def login(client: ClientSession, username: str, password: str, forwarded: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    response = await client.post(
        "/api/auth/login", json={"username": username, "password": password}, headers=headers
    )
    return response.status


async def test_wrong_passwords_from_an_attacker_do_not_lock_the_owner_out(
    users: dict[str, int], from_address: FromAddress
) -> None:
    attacker = await from_address("127.0.0.2")
    owner = await from_address("127.0.0.1")
    for _ in range(5):
        assert await login(attacker, "teacher", "guess") == 401
    # The attacker is slowed down, even with the right password...
    assert await login(attacker, "teacher", PASSWORD) == 429
    # ...but the owner, from an address that never failed, logs in.
    assert await login(owner, "teacher", PASSWORD) == 200


async def test_an_address_that_sprays_many_accounts_is_blocked_as_a_whole(
    users: dict[str, int], from_address: FromAddress
) -> None:
    sprayer = await from_address("127.0.0.2")
    bystander = await from_address("127.0.0.1")
    for n in range(20):
        assert await login(sprayer, f"spray{n}", "guess") == 401
    response = await sprayer.post("/api/auth/login", json={"username": "teacher", "password": PASSWORD})
    assert response.status == 429
    assert (await response.json())["error"]["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) > 0
    assert await login(bystander, "teacher", PASSWORD) == 200


async def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(
    users: dict[str, int], from_address: FromAddress
) -> None:
    attacker = await from_address("127.0.0.2")
    for n in range(5):
        # A forged header per try does not give the attacker a fresh address.
        assert await login(attacker, "teacher", "guess", forwarded=f"198.51.100.{n}") == 401
    assert await login(attacker, "teacher", PASSWORD, forwarded="198.51.100.77") == 429


@pytest.fixture
def behind_proxy(app: web.Application, config: Config) -> None:
    """The server trusts a TLS proxy on 127.0.0.1 (where the test clients connect from)."""
    auth = dataclasses.replace(config.auth, trusted_proxies=("127.0.0.0/30",))
    app[SERVICES].config = dataclasses.replace(config, auth=auth)


@pytest.mark.usefixtures("behind_proxy")
async def test_behind_a_trusted_proxy_each_client_address_counts_apart(
    users: dict[str, int], from_address: FromAddress
) -> None:
    proxy = await from_address("127.0.0.1")
    # The proxy appends the address it saw; whatever the attacker wrote to its left does not count.
    for n in range(5):
        assert await login(proxy, "teacher", "guess", forwarded=f"10.9.9.{n}, 203.0.113.9") == 401
    assert await login(proxy, "teacher", PASSWORD, forwarded="203.0.113.9") == 429
    # The owner comes through the same proxy from another address: not locked out.
    assert await login(proxy, "teacher", PASSWORD, forwarded="192.0.2.44") == 200
    # Without the header, the proxy itself is the client.
    assert await login(proxy, "teacher", PASSWORD) == 200


@pytest.mark.usefixtures("behind_proxy")
async def test_behind_a_trusted_proxy_a_hop_that_is_not_an_address_is_not_a_fresh_client(
    users: dict[str, int], from_address: FromAddress
) -> None:
    proxy = await from_address("127.0.0.1")
    # Made-up hops do not give the attacker a fresh address each: the proxy that passed them on is the client.
    for n in range(5):
        assert await login(proxy, "teacher", "guess", forwarded=f"garbage-not-an-ip-{n}") == 401
    assert await login(proxy, "teacher", PASSWORD, forwarded="garbage-not-an-ip") == 429
    # Nor does an address hidden left of one: the walk stops at the hop that is not an address.
    assert await login(proxy, "teacher", PASSWORD, forwarded="192.0.2.7, garbage-not-an-ip") == 429
    assert await login(proxy, "teacher", PASSWORD) == 429
    # A real client address written by the proxy still counts apart.
    assert await login(proxy, "teacher", PASSWORD, forwarded="192.0.2.44") == 200


def test_client_address_takes_the_right_most_untrusted_hop() -> None:
    trusted = ("10.0.0.0/8", "127.0.0.1")
    assert client_address("127.0.0.1", ["203.0.113.9"], trusted) == "203.0.113.9"
    assert client_address("127.0.0.1", ["6.6.6.6, 203.0.113.9, 10.1.2.3"], trusted) == "203.0.113.9"
    assert client_address("127.0.0.1", ["6.6.6.6", "203.0.113.9"], trusted) == "203.0.113.9"
    assert client_address("127.0.0.1", [], trusted) == "127.0.0.1"
    assert client_address("127.0.0.1", ["10.0.0.5"], trusted) == "10.0.0.5"
    # An untrusted peer's header means nothing; with no proxies trusted, neither does anyone's.
    assert client_address("198.51.100.1", ["203.0.113.9"], trusted) == "198.51.100.1"
    assert client_address("127.0.0.1", ["203.0.113.9"], ()) == "127.0.0.1"
    assert client_address("::1", ["2001:db8::7"], ("::1",)) == "2001:db8::7"


def test_client_address_stops_at_a_hop_that_is_not_an_ip_address() -> None:
    trusted = ("10.0.0.0/8", "127.0.0.1")
    # The last trusted address seen (the proxy that wrote the bad hop) is the client.
    assert client_address("127.0.0.1", ["garbage-not-an-ip"], trusted) == "127.0.0.1"
    assert client_address("127.0.0.1", ["203.0.113.9, garbage-not-an-ip"], trusted) == "127.0.0.1"
    assert client_address("127.0.0.1", ["203.0.113.9", "unknown"], trusted) == "127.0.0.1"
    assert client_address("127.0.0.1", ["6.6.6.6, garbage-not-an-ip, 10.1.2.3"], trusted) == "10.1.2.3"
    assert client_address("127.0.0.1", ["203.0.113.9:4711"], trusted) == "127.0.0.1"
    assert client_address("127.0.0.1", ["x" * 10_000], trusted) == "127.0.0.1"
    # Addresses are compared and counted in one spelling.
    assert client_address("::1", ["2001:DB8:0::7"], ("::1",)) == "2001:db8::7"


def test_throttle_forgets_after_the_window_and_a_success_clears_only_its_own_address() -> None:
    now = [0.0]
    throttle = LoginThrottle(per_account=2, per_address=3, window=60, clock=lambda: now[0])
    throttle.failed("ada", "a")
    throttle.failed("ada", "a")
    assert throttle.retry_after("ada", "a") > 0
    assert throttle.retry_after("ada", "b") == 0
    throttle.succeeded("ada", "b")
    assert throttle.retry_after("ada", "a") > 0
    now[0] = 61
    assert throttle.retry_after("ada", "a") == 0
