"""The web pages: static HTML from ``web/``, its modules and styles, and the socket.io client from npm."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from server.api.registry import Handler
from server.auth.sessions import session_user
from server.services import SERVICES

PAGES = {
    "/": "login.html",
    "/classrooms": "classrooms.html",
    "/classrooms/{id:[0-9]+}": "classroom.html",
    "/classrooms/{id:[0-9]+}/settings": "classroom_settings.html",
    "/resources/recordings": "recordings.html",
    "/recordings/{id:[0-9]+}": "player.html",
    "/admin/users": "users.html",
    "/settings": "settings.html",
}
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-cache",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
}
SOCKET_IO_CLIENT = Path("node_modules/socket.io-client/dist/socket.io.esm.min.js")


def _page(file_name: str, web_dir: Path, public: bool) -> Handler:
    path = web_dir / file_name

    async def page(request: web.Request) -> web.StreamResponse:
        if not public:
            async with request.app[SERVICES].db() as db:
                if await session_user(request, db) is None:
                    raise web.HTTPFound(f"/?next={quote(request.path_qs, safe='/')}")
        return web.FileResponse(path, headers=PAGE_HEADERS)

    return page


async def _socket_io_client(request: web.Request) -> web.StreamResponse:
    web_dir = request.app[SERVICES].config.server.web_dir
    path = web_dir / SOCKET_IO_CLIENT
    if not path.is_file():
        raise web.HTTPServiceUnavailable(
            text="socket.io client missing: run `npm ci` in web/ (make run does)"
        )
    return web.FileResponse(path, headers={"Content-Type": "text/javascript"})


def add_page_routes(app: web.Application, web_dir: Path) -> None:
    for route, file_name in PAGES.items():
        app.router.add_get(route, _page(file_name, web_dir, public=route == "/"))
    app.router.add_get("/vendor/socket.io.esm.min.js", _socket_io_client)
    for folder in ("js", "css", "img"):
        if (web_dir / folder).is_dir():
            app.router.add_static(f"/static/{folder}", web_dir / folder)
