"""A recording's per-participant tracks: the list, one track's file, and all of them as a streamed zip."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from server.api.registry import api, json_response, match_int
from server.auth.sessions import require_user
from server.db.models import Recording, RecordingTrack
from server.errors import NotFound, Unavailable
from server.library.files import content_disposition, path_under
from server.library.recordings import RecordingActive, get_recording, is_active, require_viewable
from server.library.tracks import (
    download_name,
    entry_names,
    file_sizes,
    find_members,
    get_track,
    has_tracks,
    manifest,
    media_type,
    recording_tracks,
    track_json,
    zip_chunks,
)
from server.services import services

log = logging.getLogger(__name__)

_ERRORS = {
    401: "Not logged in",
    404: "No such recording, not visible to you, or recorded without tracks (composite mode)",
}
_FILE_ERRORS = {**_ERRORS, 409: "The recording is still running (recording_active)"}
ZIPS_AT_ONCE = 4
"""Track zips being made at once on this server (each holds a thread and a file): one more is refused
at once with 503 ``unavailable`` and a Retry-After, rather than left waiting behind downloads that may
take long."""
ZIP_WRITE_TIMEOUT = 60.0
"Seconds a zip waits for a client that takes nothing more before the download is cut off."
_zips = 0
# Set here as the response is sent from the handler (the headers middleware comes too late for it).
_STREAM_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


async def _viewed(request: web.Request, db: AsyncSession, *, finished: bool) -> Recording:
    """The recording, for someone who may view it, once it has tracks (and, if ``finished``, has ended)."""
    user = await require_user(request, db)
    recording = await get_recording(db, match_int(request, "id"))
    await require_viewable(db, user, recording)  # through any classroom it covers
    if not has_tracks(recording):
        raise NotFound(f"recording {recording.id} has no tracks: it was recorded in composite mode")
    if finished and is_active(recording):
        raise RecordingActive("the recording is still running: its tracks can be downloaded once it stops")
    return recording


@api.route(
    "GET", "/api/recordings/{id}/tracks",
    summary="Each participant's own tracks (tracks and both modes): who, source, codec, offset, length",
    access="who may view it", tag="recordings", responses={200: "Tracks", **_ERRORS},
)  # fmt: skip
async def list_tracks(request: web.Request) -> web.Response:
    svc = services(request)
    async with svc.db() as db:
        recording = await _viewed(request, db, finished=False)
        tracks = await recording_tracks(db, recording.id)
    # A running recording's tracks are still growing: their files' sizes so far.
    sizes = (
        await asyncio.to_thread(file_sizes, svc.storage.recordings, [t.file_name for t in tracks])
        if is_active(recording)
        else {}
    )
    return json_response({"tracks": [track_json(t, size_bytes=sizes.get(t.file_name)) for t in tracks]})


def _present(root: Path, file_name: str) -> Path | None:
    """The track's file, if it is there (blocking: a resolve and a stat)."""
    path = path_under(root, file_name)
    return path if path.is_file() else None


@api.route(
    "GET", "/api/recordings/{id}/tracks/{track_id}/media",
    summary="One track's file, to save (WebM: Opus or VP8; MP4: H.264; HTTP Range)",
    access="who may view it", tag="recordings",
    responses={200: "audio/webm, video/webm or video/mp4", 206: "Part of it", **_FILE_ERRORS},
)  # fmt: skip
async def track_media(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    async with svc.db() as db:
        recording = await _viewed(request, db, finished=True)
        track = await get_track(db, recording.id, match_int(request, "track_id"))
        if track is None:
            raise NotFound("this recording has no such track")
        name = download_name(recording, entry_names([track])[0])
    path = await asyncio.to_thread(_present, svc.storage.recordings, track.file_name)
    if path is None:
        raise NotFound("this track's file is gone")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": media_type(track),
            "Content-Disposition": content_disposition("attachment", name),
            "Cache-Control": "private, no-cache",
        },
    )


@api.route(
    "GET", "/api/recordings/{id}/tracks.zip",
    summary="Every track and a manifest.json (its timeline offsets), as one zip streamed as it is made",
    access="who may view it", tag="recordings",
    responses={
        200: "application/zip",
        **_FILE_ERRORS,
        503: f"{ZIPS_AT_ONCE} zips are being made already (unavailable; Retry-After)",
    },
)  # fmt: skip
async def tracks_zip(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    async with svc.db() as db:
        recording = await _viewed(request, db, finished=True)
        tracks = list(await recording_tracks(db, recording.id))
    global _zips
    if _zips >= ZIPS_AT_ONCE:
        raise Unavailable(
            "the server is making as many track downloads as it can at once; try again in a minute",
            headers={"Retry-After": "30"},
        )
    _zips += 1
    try:
        return await _send_zip(request, recording, tracks)
    finally:
        _zips -= 1


async def _send_zip(
    request: web.Request, recording: Recording, tracks: list[RecordingTrack]
) -> web.StreamResponse:
    svc = services(request)
    names = entry_names(tracks)
    members = await asyncio.to_thread(
        find_members, svc.storage.recordings, [(n, t.file_name) for n, t in zip(names, tracks, strict=True)]
    )
    included = {member.name for member in members}
    kept = [(t, n) for t, n in zip(tracks, names, strict=True) if n in included]
    body = manifest(recording, [t for t, _ in kept], [n for _, n in kept])
    response = web.StreamResponse(
        headers={
            **_STREAM_HEADERS,
            "Content-Type": "application/zip",
            "Content-Disposition": content_disposition("attachment", download_name(recording, "tracks.zip")),
        }
    )
    await response.prepare(request)
    try:
        async with contextlib.aclosing(zip_chunks(body, members)) as chunks:
            async for chunk in chunks:
                # A client that stops taking the download (but keeps its connection) lets it go.
                await asyncio.wait_for(response.write(chunk), ZIP_WRITE_TIMEOUT)
    except ConnectionError:
        log.info("the tracks' zip was not taken to its end", extra={"recording_id": recording.id})
        return response
    except TimeoutError:
        log.info("the tracks' zip was cut off: its client took nothing", extra={"recording_id": recording.id})
        if request.transport is not None:
            request.transport.abort()
        return response
    except Exception:
        # The headers are gone: the download must end incomplete rather than look whole.
        log.exception("the tracks' zip failed", extra={"recording_id": recording.id})
        if request.transport is not None:
            request.transport.abort()
        return response
    await response.write_eof()
    return response
