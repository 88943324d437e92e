"""ICE settings: coturn REST credentials and which host addresses the server offers."""

from __future__ import annotations

import base64
import hashlib
import hmac

import aioice
import aioice.ice

from server.media.ice import host_address_filter, ice_servers_for, turn_credentials


def test_turn_credentials_are_what_coturn_use_auth_secret_accepts() -> None:
    username, password = turn_credentials("s3cret", user_id=42, ttl=3600, now=1_700_000_000)
    assert username == "1700003600:42"
    expected = base64.b64encode(hmac.new(b"s3cret", username.encode(), hashlib.sha1).digest()).decode()
    assert password == expected


def test_browsers_get_stun_and_turn_with_their_own_credentials() -> None:
    servers = ice_servers_for(7, ["stun:stun.example:3478"], ["turn:turn.example:3478"], "k", 600)
    assert [s.to_json()["urls"] for s in servers] == [["stun:stun.example:3478"], ["turn:turn.example:3478"]]
    turn = servers[1].to_json()
    assert turn["username"].endswith(":7")
    assert "username" not in servers[0].to_json()
    assert ice_servers_for(7, [], [], "", 600) == []


def test_host_addresses_follow_the_enforce_and_ignore_lists() -> None:
    # The test command's namespace has exactly lo with 127.0.0.1 and 127.0.0.2 (and ::1).
    assert host_address_filter((), ())(True, False) == ["127.0.0.2"]
    assert sorted(host_address_filter(("lo",), ())(True, False)) == ["127.0.0.1", "127.0.0.2"]
    assert host_address_filter(("127.0.0.1/32",), ())(True, False) == ["127.0.0.1"]
    assert host_address_filter(("lo",), ("127.0.0.2",))(True, False) == ["127.0.0.1"]
    assert host_address_filter(("eth9",), ())(True, True) == []


def test_the_aioice_hook_is_still_where_it_was() -> None:
    assert aioice.__version__ == "0.13.0"
    assert callable(aioice.ice.get_host_addresses)
