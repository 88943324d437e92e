"""Pages are served with a strict content policy; logged-out visitors are sent to the login page."""

from __future__ import annotations

import pytest

from tests.conftest import ClientFactory

PAGES = ["/classrooms", "/classrooms/1", "/resources/recordings", "/admin/users"]


@pytest.mark.parametrize("path", PAGES)
async def test_logged_out_visitors_go_to_login(client_as: ClientFactory, path: str) -> None:
    response = await (await client_as(None)).get(path, allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == f"/?next={path}"


@pytest.mark.parametrize("path", ["/", *PAGES])
async def test_pages_have_a_strict_content_security_policy(
    users: dict[str, int], client_as: ClientFactory, path: str
) -> None:
    response = await (await client_as("teacher")).get(path)
    assert response.status == 200
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    html = await response.text()
    assert '<script type="module" src="/static/js/' in html
    assert "<script>" not in html


async def test_modules_styles_and_the_socket_io_client_are_served(client_as: ClientFactory) -> None:
    client = await client_as(None)
    for path in ["/static/js/protocol.js", "/static/css/aula.css", "/vendor/socket.io.esm.min.js"]:
        response = await client.get(path)
        assert response.status == 200, path
    vendor = await (await client.get("/vendor/socket.io.esm.min.js")).text()
    assert "export" in vendor
    assert (await client.get("/static/js/../../server/config.py")).status == 404
