"""A recording's per-participant tracks (``tracks`` and ``both`` modes): listing, the zip of them all,
their files' deletion, and how the tracks settle when the robot is done.

Each track is one participant's source as it was forwarded, in its own file inside the recordings
directory (named by the server, ``server.library.files.tracks_prefix``); a row of
:class:`~server.db.models.RecordingTrack` describes it. The zip (``GET /api/recordings/{id}/tracks.zip``)
is streamed as it is made: the standard library's ``zipfile`` writes ``ZIP_STORED`` entries (the tracks
are compressed media already) into a non-seekable writer on a worker thread, whose chunks reach the
response through a bounded queue. The thread waits while the queue is full, so a slow client holds back
the reading of the files, and memory stays a few chunks whatever the size of the tracks; a client that
goes away stops the thread. Nothing is built in memory or on disk first. The files are looked at (size,
time) for the manifest beforehand and each is opened only when its turn comes; the API makes at most a
few zips at once and cuts off a client that takes nothing for a while (``server.api.tracks_api``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import io
import json
import logging
import threading
import time
import unicodedata
import zipfile
from collections.abc import AsyncGenerator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from recorder_bot.job import Finished
from server.db.models import Recording, RecordingMode, RecordingState, RecordingTrack
from server.library import probe
from server.library.files import path_under
from server.library.recordings import add_flag, transition
from server.names import BIDI_CONTROLS
from server.timefmt import iso

log = logging.getLogger(__name__)

CHUNK = 256 * 1024
"Bytes per chunk handed from the zip's thread to the response."
QUEUE_CHUNKS = 4
"Chunks waiting for the response at most: the zip's thread waits while the queue is full."
_READ = 256 * 1024
_ZIP_EPOCH = 315_705_600.0  # 1980-01-02 UTC
_POLL = 0.2  # seconds between the thread's looks at whether the client is still there
ENTRY_NAME_MAX = 120
MANIFEST = "manifest.json"
_MEDIA_TYPES = {("audio", ".webm"): "audio/webm", ("video", ".webm"): "video/webm"}


def has_tracks(recording: Recording) -> bool:
    """Whether the recording was made in a mode that writes tracks (``tracks`` or ``both``)."""
    return RecordingMode(recording.mode) != RecordingMode.COMPOSITE


async def recording_tracks(db: AsyncSession, recording_id: int) -> Sequence[RecordingTrack]:
    """The recording's tracks in timeline order (then as they began)."""
    return (
        await db.scalars(
            select(RecordingTrack)
            .where(RecordingTrack.recording_id == recording_id)
            .order_by(RecordingTrack.offset_ms, RecordingTrack.id)
        )
    ).all()


async def get_track(db: AsyncSession, recording_id: int, track_id: int) -> RecordingTrack | None:
    track = await db.get(RecordingTrack, track_id)
    return track if track is not None and track.recording_id == recording_id else None


async def track_file_names(db: AsyncSession, recording_id: int) -> list[str]:
    return list(
        (
            await db.scalars(
                select(RecordingTrack.file_name).where(RecordingTrack.recording_id == recording_id)
            )
        ).all()
    )


async def track_count(db: AsyncSession, recording_id: int) -> int:
    return (await db.scalar(select(func.count()).where(RecordingTrack.recording_id == recording_id))) or 0


def track_json(track: RecordingTrack, *, size_bytes: int | None = None) -> dict[str, Any]:
    """A Track on the wire (``size_bytes`` overrides the stored size: a running track's file so far)."""
    return {
        "id": track.id,
        "user": {"id": track.user_id, "display_name": track.display_name},
        "source": track.source,
        "kind": track.kind,
        "codec": track.codec,
        "offset_ms": track.offset_ms,
        "duration_ms": track.duration_ms,
        "size_bytes": track.size_bytes if size_bytes is None else size_bytes,
        "media_url": f"/api/recordings/{track.recording_id}/tracks/{track.id}/media",
    }


def media_type(track: RecordingTrack) -> str:
    """``audio/webm`` or ``video/webm`` (Opus, VP8), ``video/mp4`` (H.264)."""
    return _MEDIA_TYPES.get((track.kind, Path(track.file_name).suffix), "video/mp4")


def _clean(text: str) -> str:
    """``text`` without path separators, characters Windows refuses in names, control and bidi ones."""
    cleaned = "".join(
        " "
        if char in '\\/:*?"<>|'
        or char in BIDI_CONTROLS
        or unicodedata.category(char) in {"Cc", "Cf", "Cs", "Zl", "Zp"}
        else char
        for char in unicodedata.normalize("NFC", text)
    )
    return " ".join(cleaned.split()).strip(" .")


def entry_names(tracks: Iterable[RecordingTrack]) -> list[str]:
    """One file name per track, from its participant's display name and its source ("Sam Student -
    camera.webm"): no path separators or control characters, unique (also ignoring case, as Windows and
    macOS compare names), never ``manifest.json``."""
    used = {MANIFEST}
    names = []
    for track in tracks:
        extension = Path(track.file_name).suffix or ".webm"
        person = _clean(track.display_name)[:ENTRY_NAME_MAX] or "participant"
        stem = f"{person} - {_clean(track.source) or 'track'}"
        name, copy = f"{stem}{extension}", 2
        while name.casefold() in used:
            name, copy = f"{stem} ({copy}){extension}", copy + 1
        used.add(name.casefold())
        names.append(name)
    return names


def download_name(recording: Recording, entry: str) -> str:
    """A track saved on its own: "<recording name> - <entry name>"."""
    return f"{_clean(recording.name)[:ENTRY_NAME_MAX] or 'recording'} - {entry}"


def manifest(recording: Recording, tracks: Sequence[RecordingTrack], names: Sequence[str]) -> dict[str, Any]:
    """What ``manifest.json`` in the zip says: the recording and each track with its entry's name."""
    return {
        "recording": {
            "id": recording.id,
            "name": recording.name,
            "started_at": iso(recording.started_at),
            "duration_ms": recording.duration_ms,
            "mode": recording.mode,
        },
        "tracks": [
            {
                "file": name,
                "user_id": track.user_id,
                "display_name": track.display_name,
                "source": track.source,
                "kind": track.kind,
                "codec": track.codec,
                "offset_ms": track.offset_ms,
                "duration_ms": track.duration_ms,
            }
            for track, name in zip(tracks, names, strict=True)
        ],
    }


def file_sizes(root: Path, file_names: Iterable[str]) -> dict[str, int]:
    """Each file's size now (0 when it is not there yet); blocking: run it in a thread."""
    sizes = {}
    for name in file_names:
        try:
            sizes[name] = path_under(root, name).stat().st_size
        except (FileNotFoundError, ValueError):
            sizes[name] = 0
    return sizes


def delete_files(root: Path, file_names: Iterable[str]) -> None:
    """Remove track files (those already gone, or not plain names inside ``root``, are skipped);
    blocking: run it in a thread."""
    for name in file_names:
        try:
            path_under(root, name).unlink(missing_ok=True)
        except (OSError, ValueError):
            log.exception("a track file could not be deleted", extra={"file_name": name})


# -- the zip --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZipMember:
    """One file of the zip as it was found for the manifest; the zip's thread opens it only when its
    turn comes, so a download holds one file open at a time."""

    name: str
    path: Path
    size: int
    mtime: float


def find_members(root: Path, entries: Sequence[tuple[str, str]]) -> list[ZipMember]:
    """``(entry name, file name)`` pairs whose file is there (one that is gone is left out, and logged),
    with its size and time. Blocking: run it in a thread."""
    members = []
    for name, file_name in entries:
        try:
            path = path_under(root, file_name)
            status = path.stat()
        except (OSError, ValueError):
            log.warning("a track file is missing from the zip", extra={"file_name": file_name})
            continue
        members.append(ZipMember(name, path, status.st_size, status.st_mtime))
    return members


class _Stopped(Exception):
    """The response went away: the zip's thread stops."""


class _ChunkPipe:
    """The non-seekable file ``zipfile`` writes into: its bytes go out in chunks through ``queue``.

    Runs on the zip's thread. Handing a chunk waits while the queue is full (the client is slow), and
    gives up once ``stop`` is set (the client went away)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        queue: asyncio.Queue[bytes | BaseException | None],
        stop: threading.Event,
    ) -> None:
        self._loop = loop
        self._queue = queue
        self._stop = stop
        self._pending: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> int:
        if self._stop.is_set():
            raise _Stopped
        self._pending.append(bytes(data))
        self._size += len(data)
        if self._size >= CHUNK:
            self.send_pending()
        return len(data)

    def tell(self) -> int:
        raise io.UnsupportedOperation("a stream has no position")  # zipfile then writes data descriptors

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def send_pending(self) -> None:
        if self._pending:
            chunk = b"".join(self._pending)
            self._pending, self._size = [], 0
            self.hand(chunk)

    def hand(self, item: bytes | BaseException | None) -> None:
        future = asyncio.run_coroutine_threadsafe(self._queue.put(item), self._loop)
        while True:
            try:
                future.result(timeout=_POLL)
                return
            except concurrent.futures.TimeoutError:
                if self._stop.is_set():
                    future.cancel()
                    raise _Stopped from None


def _write_zip(pipe: _ChunkPipe, manifest_json: bytes, members: Sequence[ZipMember]) -> None:
    """The zip's thread: ``manifest.json``, then each member read in pieces, then the end of the zip."""
    try:
        with zipfile.ZipFile(pipe, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            info = zipfile.ZipInfo(MANIFEST, date_time=_zip_time(time.time()))
            info.external_attr = 0o644 << 16
            archive.writestr(info, manifest_json)
            for member in members:
                info = zipfile.ZipInfo(member.name, date_time=_zip_time(member.mtime))
                info.external_attr = 0o644 << 16
                info.file_size = member.size
                # Gone since the manifest was made (deleted meanwhile): the download ends incomplete.
                with member.path.open("rb") as source, archive.open(info, "w") as entry:
                    while piece := source.read(_READ):
                        entry.write(piece)
        pipe.send_pending()
        pipe.hand(None)
    except _Stopped:
        pass
    except BaseException as exc:  # told to the response, which ends the download incomplete
        with contextlib.suppress(Exception):  # _Stopped, or the loop is gone (the server stopped)
            pipe.hand(exc)


def _zip_time(mtime: float) -> tuple[int, int, int, int, int, int]:
    moment = time.localtime(max(mtime, _ZIP_EPOCH))  # the zip format's dates start in 1980
    return (moment.tm_year, moment.tm_mon, moment.tm_mday, moment.tm_hour, moment.tm_min, moment.tm_sec)


async def zip_chunks(
    manifest_body: dict[str, Any], members: Sequence[ZipMember]
) -> AsyncGenerator[bytes, None]:
    """The zip of ``manifest.json`` and ``members``, chunk by chunk, as its thread writes it.

    Use it in ``contextlib.aclosing``: closing it early (the client went away) stops the thread, which
    closes the member's file it is reading. An error of the thread is raised here."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue(maxsize=QUEUE_CHUNKS)
    stop = threading.Event()
    pipe = _ChunkPipe(loop, queue, stop)
    body = json.dumps(manifest_body, ensure_ascii=False, indent=2).encode()
    thread = threading.Thread(target=_write_zip, args=(pipe, body, members), name="tracks-zip", daemon=True)
    thread.start()
    try:
        while True:
            item = await queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while not queue.empty():  # a chunk handed meanwhile is dropped: nothing waits on a full queue
            queue.get_nowait()
        await asyncio.to_thread(thread.join, 5 * _POLL + 5)


# -- when the robot is done -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SettledTracks:
    count: int
    size_bytes: int
    end_ms: int
    "Where the last track ends on the recording's timeline."


async def settle_tracks(
    db: AsyncSession, recording: Recording, finished: Finished | None, root: Path
) -> SettledTracks:
    """Store each track's length and size: the robot's own figures after a clean finish (``Finished.
    tracks``), else (a crash, or a track it did not report) what its file holds, read to its end. A track
    whose file does not play is dropped from the list (logged), its file removed."""
    reported = {done.file_name: done for done in finished.tracks} if finished is not None else {}
    kept: list[RecordingTrack] = []
    dropped: list[str] = []
    for track in await recording_tracks(db, recording.id):
        path, size = await asyncio.to_thread(_located, root, track.file_name)
        done = reported.get(track.file_name)
        if size and done is not None:
            track.duration_ms, track.size_bytes = done.duration_ms, size
            kept.append(track)
            continue
        found = await probe.probe(path, whole=True) if size and path is not None else None
        if found is None or not found.playable:
            log.warning(
                "a track file does not play: dropped",
                extra={
                    "recording_id": recording.id,
                    "file_name": track.file_name,
                    "detail": found.detail if found is not None else "no file",
                },
            )
            dropped.append(track.file_name)
            await db.delete(track)
            continue
        track.duration_ms, track.size_bytes = found.duration_ms, size or 0
        kept.append(track)
    if dropped:
        await asyncio.to_thread(delete_files, root, dropped)
    return SettledTracks(
        count=len(kept),
        size_bytes=sum(track.size_bytes for track in kept),
        end_ms=max((track.offset_ms + track.duration_ms for track in kept), default=0),
    )


def _located(root: Path, file_name: str) -> tuple[Path | None, int | None]:
    """The track's file and its size (None: not a plain name inside ``root``, or not there). Blocking."""
    try:
        path = path_under(root, file_name)
    except ValueError:
        return None, None
    try:
        return path, path.stat().st_size
    except FileNotFoundError:
        return path, None


def settle_tracks_only(
    recording: Recording, finished: Finished | None, tracks: SettledTracks, error: str | None
) -> None:
    """``finishing`` → ``ready`` for a ``tracks`` recording (no mixed file, no thumbnail) once it has a
    track that plays: its length is the robot's (or, after a crash, where its last track ends, and it is
    flagged ``recovered``), its size that of its tracks. Without any track it failed."""
    if tracks.count == 0:
        recording.error = error or "no participant's media reached the recording: no track was written"
        transition(recording, RecordingState.FAILED)
        return
    recording.duration_ms = finished.duration_ms if finished is not None else tracks.end_ms
    recording.size_bytes = tracks.size_bytes
    if finished is None:
        add_flag(recording, "recovered")
    transition(recording, RecordingState.READY)
