"""Chapters in a downloaded recording: its own fragmented MP4 with a Nero chapter box added as it is served.

The file on disk is never rewritten, so Stop stays "ready at once" and bookmarks edited after the class
show in the next download. What is served is a virtual file: the file's boxes before ``moov`` and its
``moov`` with ``udta/chpl`` added (a few hundred bytes, built in memory), then the rest of the file as it
is. That is safe because every offset inside a fragment is relative to its ``moof``
(``default_base_moof``); the only absolute offsets are the ``moof`` offsets of a trailing ``mfra``, which
are shifted by the bytes added. A file without ``mfra`` (still being recorded, or left by a robot that
was killed) is served up to its last complete box.

``chpl`` is what ffmpeg's mov demuxer reads (``mov_read_chpl``) and writes (``mov_write_chpl_tag``):
version 1, flags, 4 reserved bytes, a 1-byte count, then per chapter a 64-bit start in 100 ns units, a
1-byte title length and the title in UTF-8; so at most 255 chapters of at most 255 bytes of title.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import struct
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from aiohttp import web

log = logging.getLogger(__name__)

CHAPTERS_MAX = 255
TITLE_BYTES_MAX = 255
MOOV_MAX = 64 << 20
"""A larger ``moov`` (or box before it) is not one our robot wrote (its ``moov`` is empty, about a
kilobyte): refused, as it would be read into memory."""
CHUNK = 1 << 20
"""Bytes read from the file per step while streaming: large enough for throughput, small for memory."""
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]+")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class Mp4Error(ValueError):
    """The file is not an MP4 this module can add chapters to (no ``moov`` at the start, a broken box)."""


class ChapterMark(Protocol):
    """What a chapter needs to become an MP4 chapter (``server.library.chapters.Chapter`` is one)."""

    @property
    def start_ms(self) -> int: ...

    @property
    def title(self) -> str: ...


@dataclass(frozen=True)
class FileRange:
    """``length`` bytes of the file from ``offset``."""

    offset: int
    length: int


Part = bytes | FileRange


@dataclass(frozen=True)
class VirtualFile:
    """What is served: ``parts`` one after the other, bytes built in memory or ranges of ``path``."""

    path: Path
    parts: tuple[Part, ...]
    etag: str
    """Changes with the file and with the chapters, so a resumed download (``If-Range``) never mixes two
    versions."""

    @property
    def size(self) -> int:
        return sum(_length(part) for part in self.parts)

    def slices(self, start: int, end: int) -> Iterator[Part]:
        """The parts that make up bytes ``start`` to ``end`` (exclusive), cut at both ends."""
        position = 0
        for part in self.parts:
            length = _length(part)
            low, high = max(start, position), min(end, position + length)
            if low < high:
                skip = low - position
                if isinstance(part, FileRange):
                    yield FileRange(part.offset + skip, high - low)
                else:
                    yield part[skip : skip + high - low]
            position += length
            if position >= end:
                return


def _length(part: Part) -> int:
    return part.length if isinstance(part, FileRange) else len(part)


# -- boxes -------------------------------------------------------------------------------------------------


def box(kind: bytes, payload: bytes) -> bytes:
    """One MP4 box around ``payload`` (a 64-bit size only when a 32-bit one cannot hold it)."""
    if len(payload) + 8 <= 0xFFFFFFFF:
        return struct.pack(">I4s", len(payload) + 8, kind) + payload
    return struct.pack(">I4sQ", 1, kind, len(payload) + 16) + payload


def chpl_box(chapters: Sequence[ChapterMark]) -> bytes:
    """The Nero chapter box: chapters in start order, at most 255, titles cut to 255 bytes of UTF-8."""
    ordered = sorted(chapters, key=lambda chapter: chapter.start_ms)
    if len(ordered) > CHAPTERS_MAX:
        log.warning("%d chapters: only the first %d go into the MP4", len(ordered), CHAPTERS_MAX)
        ordered = ordered[:CHAPTERS_MAX]
    entries = []
    for chapter in ordered:
        title = _title_bytes(chapter.title)
        start = max(0, int(chapter.start_ms)) * 10_000  # 100 ns units
        entries.append(struct.pack(">QB", start, len(title)) + title)
    return box(b"chpl", struct.pack(">BxxxIB", 1, 0, len(entries)) + b"".join(entries))


def _title_bytes(title: str) -> bytes:
    """One line of at most 255 bytes, cut between characters, never inside one."""
    encoded = " ".join(_CONTROLS.sub(" ", title).split()).encode("utf-8")
    return encoded[:TITLE_BYTES_MAX].decode("utf-8", "ignore").encode("utf-8")


def _children(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """The boxes in ``data`` as (type, whole box bytes)."""
    offset = 0
    while offset < len(data):
        if len(data) - offset < 8:
            raise Mp4Error("a box is cut short")
        size, kind = struct.unpack_from(">I4s", data, offset)
        if size == 1:
            if len(data) - offset < 16:
                raise Mp4Error("a box is cut short")
            (size,) = struct.unpack_from(">Q", data, offset + 8)
        elif size == 0:
            size = len(data) - offset
        if size < 8 or offset + size > len(data):
            raise Mp4Error(f"box {kind!r} has a bad size")
        yield kind, data[offset : offset + size]
        offset += size


def _payload(whole: bytes) -> bytes:
    (size,) = struct.unpack_from(">I", whole)
    return whole[16:] if size == 1 else whole[8:]


_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"moof", b"traf"}
TFHD_BASE_DATA_OFFSET = 0x000001


def check_relative_offsets(box_bytes: bytes) -> None:
    """Raise :class:`Mp4Error` if ``box_bytes`` (a ``moov`` or ``moof``) points at media by absolute file
    offsets (samples in ``moov``'s ``stco``/``co64``, or a ``tfhd`` base data offset): bytes added before
    them would make them miss. The robot's files have neither (empty moov, default_base_moof)."""
    for kind, whole in _children(_payload(box_bytes)):
        if kind in _CONTAINERS:
            check_relative_offsets(whole)
        elif kind in (b"stco", b"co64") and (len(whole) < 16 or struct.unpack_from(">I", whole, 12)[0]):
            raise Mp4Error("samples in the moov are found by absolute offsets")
        elif kind == b"tfhd" and (
            len(whole) < 12 or struct.unpack_from(">I", whole, 8)[0] & TFHD_BASE_DATA_OFFSET
        ):
            raise Mp4Error("fragments are found by absolute base data offsets")


def moov_with_chapters(moov: bytes, chapters: Sequence[ChapterMark]) -> bytes:
    """``moov`` with its ``udta`` holding ``chpl`` for ``chapters`` (an old ``chpl`` is replaced; no
    chapters, no ``chpl``); ``udta`` is made if there is none."""
    chpl = chpl_box(chapters) if chapters else b""
    children, has_udta = [], False
    for kind, whole in _children(_payload(moov)):
        if kind == b"udta":
            has_udta = True
            kept = [part for sub, part in _children(_payload(whole)) if sub != b"chpl"]
            whole = box(b"udta", b"".join(kept) + chpl)
        children.append(whole)
    if not has_udta and chpl:
        children.append(box(b"udta", chpl))
    return box(b"moov", b"".join(children))


def shifted_mfra(mfra: bytes, delta: int) -> bytes:
    """``mfra`` with every ``tfra`` entry's ``moof`` offset moved by ``delta`` bytes."""
    children = []
    for kind, whole in _children(_payload(mfra)):
        if kind == b"tfra":
            whole = _shifted_tfra(whole, delta)
        children.append(whole)
    return box(b"mfra", b"".join(children))


def _shifted_tfra(tfra: bytes, delta: int) -> bytes:
    header = len(tfra) - len(_payload(tfra))
    data = bytearray(tfra)
    version = data[header]
    sizes, count = struct.unpack_from(">II", data, header + 8)
    index_bytes = ((sizes >> 4) & 3) + ((sizes >> 2) & 3) + (sizes & 3) + 3
    time_bytes = 8 if version == 1 else 4
    entry = 2 * time_bytes + index_bytes
    first = header + 16
    if first + count * entry > len(data):
        raise Mp4Error("tfra is cut short")
    offset_format = ">Q" if version == 1 else ">I"
    for index in range(count):
        at = first + index * entry + time_bytes
        (moof,) = struct.unpack_from(offset_format, data, at)
        if not 0 <= moof + delta < 1 << (8 * time_bytes):
            raise Mp4Error("a shifted moof offset does not fit its tfra")
        struct.pack_into(offset_format, data, at, moof + delta)
    return bytes(data)


# -- the file ----------------------------------------------------------------------------------------------


def _box_at(descriptor: int, offset: int, file_size: int) -> tuple[bytes, int, int] | None:
    """(type, size, header size) of the box at ``offset``, or None if it is not whole in the file."""
    head = os.pread(descriptor, 16, offset)
    if len(head) < 8:
        return None
    size, kind = struct.unpack_from(">I4s", head)
    header = 8
    if size == 1:
        if len(head) < 16:
            return None
        (size,) = struct.unpack_from(">Q", head, 8)
        header = 16
    elif size == 0:
        size = file_size - offset
    if size < header or offset + size > file_size:
        return None
    return kind, size, header


def _read(descriptor: int, length: int, offset: int) -> bytes:
    data = os.pread(descriptor, length, offset)
    if len(data) != length:
        raise Mp4Error("the file is shorter than its boxes say")
    return data


def with_chapters(path: Path, chapters: Sequence[ChapterMark]) -> VirtualFile:
    """The download of ``path`` with ``chapters`` in its ``moov`` (blocking: call it in a thread).

    Raises :class:`Mp4Error` when the file does not start with its ``moov`` (before any ``moof`` or
    ``mdat``), or finds its media by absolute offsets (see :func:`check_relative_offsets`): then it has to
    be served as it is.
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        stat = os.fstat(descriptor)
        file_size = stat.st_size
        offset, head = 0, b""
        while True:
            found = _box_at(descriptor, offset, file_size)
            if found is None:
                raise Mp4Error("no whole moov at the start of the file")
            kind, size, _ = found
            if kind in (b"moof", b"mdat") or size > MOOV_MAX:
                raise Mp4Error(f"{kind.decode('latin-1')!r} ({size} bytes) before a usable moov")
            if kind == b"moov":
                moov = _read(descriptor, size, offset)
                break
            head += _read(descriptor, size, offset)
            offset += size
        body_start = offset + size
        check_relative_offsets(moov)
        first = _box_at(descriptor, body_start, file_size)
        if first is not None and first[0] == b"moof" and first[1] <= MOOV_MAX:
            check_relative_offsets(_read(descriptor, first[1], body_start))
        new_moov = moov_with_chapters(moov, chapters)
        delta = len(new_moov) - len(moov)
        tail = _tail(descriptor, body_start, file_size, delta)
    finally:
        os.close(descriptor)
    parts: list[Part] = [head + new_moov]
    body_end = body_start + sum(_length(part) for part in tail if isinstance(part, FileRange))
    parts.extend(tail)
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else struct.pack(">QQ", part.offset, part.length))
    digest.update(struct.pack(">QQQ", stat.st_ino, stat.st_mtime_ns, body_end))
    return VirtualFile(path, tuple(part for part in parts if _length(part)), f'"{digest.hexdigest()[:32]}"')


def _tail(descriptor: int, start: int, file_size: int, delta: int) -> list[Part]:
    """The file after ``moov``: up to a trailing ``mfra`` (served shifted by ``delta``), or, without one,
    up to the end of its last whole fragment (one being written, or cut by a kill, is left out)."""
    mfra = _trailing_mfra(descriptor, start, file_size)
    if mfra is not None:
        mfra_start = file_size - len(mfra)
        return [FileRange(start, mfra_start - start), shifted_mfra(mfra, delta)]
    end = whole = start
    while (found := _box_at(descriptor, whole, file_size)) is not None:
        whole += found[1]
        if found[0] != b"moof":  # a moof is only whole with the mdat after it
            end = whole
    return [FileRange(start, end - start)]


def _trailing_mfra(descriptor: int, start: int, file_size: int) -> bytes | None:
    """The ``mfra`` the file ends with (found through the ``mfro`` that closes it), or None."""
    if file_size - start < 16 + 8:
        return None
    mfro = os.pread(descriptor, 16, file_size - 16)
    size, kind, _, mfra_size = struct.unpack(">I4sII", mfro)
    if size != 16 or kind != b"mfro" or not 16 + 8 <= mfra_size <= file_size - start:
        return None
    mfra = _read(descriptor, mfra_size, file_size - mfra_size)
    if mfra[4:8] != b"mfra" or struct.unpack_from(">I", mfra)[0] != mfra_size:
        return None
    try:
        shifted_mfra(mfra, 0)  # parses: a broken mfra is treated as none
    except (Mp4Error, struct.error):
        return None
    return mfra


# -- serving -----------------------------------------------------------------------------------------------


def requested_range(request: web.Request, size: int, etag: str) -> tuple[int, int] | None:
    """The byte range asked for as (start, end exclusive), or None for the whole file.

    One range only (several are answered with the whole file, as RFC 9110 allows); an ``If-Range`` that
    is not this version's ETag asks for the whole file. Raises :class:`RangeNotSatisfiable` for a range
    past the end.
    """
    header = request.headers.get("Range")
    if header is None:
        return None
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range.strip() != etag:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return max(0, size - suffix), size
    start = int(first)
    end = min(size, int(last) + 1) if last else size
    if last and int(last) < start:
        return None  # not a valid range: ignored
    if start >= size:
        raise RangeNotSatisfiable(size)
    return start, end


class RangeNotSatisfiable(Exception):
    """The range asked for starts past the end: answered 416 with the size (``Content-Range``)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"the range asked for starts past the end of the file ({size} bytes)")
        self.size = size


async def serve(request: web.Request, virtual: VirtualFile, headers: Mapping[str, str]) -> web.StreamResponse:
    """Stream ``virtual`` (or the range asked for) in chunks read off the event loop."""
    size = virtual.size
    try:
        chosen = requested_range(request, size, virtual.etag)
    except RangeNotSatisfiable as refused:
        return web.json_response(
            {"error": {"code": "invalid", "message": str(refused)}},
            status=416,
            headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"},
        )
    start, end = chosen if chosen is not None else (0, size)
    response = web.StreamResponse(status=206 if chosen is not None else 200, headers=headers)
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["ETag"] = virtual.etag
    if chosen is not None:
        response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    response.content_length = end - start
    await response.prepare(request)
    descriptor = await asyncio.to_thread(os.open, virtual.path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        for part in virtual.slices(start, end):
            if isinstance(part, bytes):
                await response.write(part)
                continue
            done = 0
            while done < part.length:
                wanted = min(CHUNK, part.length - done)
                chunk = await asyncio.to_thread(os.pread, descriptor, wanted, part.offset + done)
                if not chunk:
                    raise Mp4Error(f"{virtual.path.name} shrank while it was being sent")
                await response.write(chunk)
                done += len(chunk)
    finally:
        await asyncio.to_thread(os.close, descriptor)
    await response.write_eof()
    return response
