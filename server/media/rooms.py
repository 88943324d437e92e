"""Every classroom's media, created on the first ``media_join`` and closed when its last peer leaves."""

from __future__ import annotations

from server.config import MediaSection
from server.media.classroom_media import ClassroomMedia, MediaSignals
from server.media.ice import IceServer, ice_servers_for
from server.media.router import RouterConfig


class MediaRooms:
    def __init__(self, config: MediaSection) -> None:
        self.config = config
        self.router_config = RouterConfig(
            video_codec=config.video_codec,
            max_video_bitrate=config.max_video_bitrate,
            keyframe_request_interval=config.keyframe_request_interval_ms / 1000,
        )
        self._rooms: dict[int, ClassroomMedia] = {}

    def get(self, classroom_id: int) -> ClassroomMedia | None:
        return self._rooms.get(classroom_id)

    def open(self, classroom_id: int, signals: MediaSignals) -> ClassroomMedia:
        room = self._rooms.get(classroom_id)
        if room is None:
            room = ClassroomMedia(classroom_id, self.router_config, self.config.stun_servers, signals)
            self._rooms[classroom_id] = room
        return room

    async def leave(self, classroom_id: int, user_id: int) -> None:
        room = self._rooms.get(classroom_id)
        if room is None:
            return
        await room.leave(user_id)
        if room.empty and self._rooms.get(classroom_id) is room:
            del self._rooms[classroom_id]
            await room.close()

    async def close(self) -> None:
        for classroom_id in list(self._rooms):
            await self._rooms.pop(classroom_id).close()

    def ice_servers(self, user_id: int) -> list[IceServer]:
        c = self.config
        return ice_servers_for(user_id, c.stun_servers, c.turn_servers, c.turn_secret, c.turn_credential_ttl)

    def peer_count(self) -> int:
        return sum(len(room.peers) for room in self._rooms.values())
