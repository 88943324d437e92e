"""Media over one peer connection per participant: the server offers, the client answers (docs/protocol.md).

Which publisher reaches which subscriber is decided here too (``may_forward``): in consent mode ``ask`` a
participant's media reaches the recorder robot only once they accepted, so the SFU never sends a decliner's
packets to it. What a student may send at all (``may_send``) follows the classroom's ``student_media`` and a
moderator's ``media_permission``: a source they may not send gets no m-line, and one withdrawn mid-class
stops being forwarded at once.
"""

from __future__ import annotations

from typing import Any

from server.auth.permissions import (
    may_reach_robot,
    may_receive,
    replay_reaches_robot,
    require_can_publish,
    require_can_set_media_rights,
    require_may_publish,
)
from server.errors import NotFound, NotJoined
from server.media.classroom_media import ClassroomMedia
from server.rooms.presence import ClassroomPresence, Participant
from server.signalling.membership import MembershipEvents
from server.signalling.namespace_core import Rate, Who, event, room_name
from server.signalling.protocol import (
    ActiveSpeaker,
    Empty,
    IceServer,
    MediaAnswer,
    MediaCandidate,
    MediaHealth,
    MediaJoin,
    MediaJoinAck,
    MediaOffer,
    MediaPermission,
    MediaScreenAck,
    MediaState,
    Offer,
    Ok,
)


class MediaEvents(MembershipEvents):
    @event(
        MediaJoin,
        MediaJoinAck,
        who=Who.JOINED,
        errors=("not_joined", "forbidden", "conflict"),
        summary="start (or restart) media: the ack carries the ICE servers and the server's first offer",
    )
    async def on_media_join(self, sid: str, data: MediaJoin) -> MediaJoinAck:
        room, participant = self.joined(sid)
        require_can_publish(participant, list(data.publish))
        require_may_publish(participant, data.publish)
        media = self.svc.media.open(room.classroom_id, self)
        offer = await media.join(participant.user_id, list(data.publish))
        if self.svc.presence.participant(sid) is None:  # left while the offer was being made
            await self.svc.media.leave(room.classroom_id, participant.user_id)
            raise NotJoined("you left the classroom")
        servers = self.svc.media.ice_servers(participant.user_id)
        return MediaJoinAck(
            ice_servers=[IceServer.model_validate(server.to_json()) for server in servers],
            offer=Offer.model_validate(offer),
        )

    @event(
        MediaAnswer,
        Ok,
        who=Who.JOINED,
        errors=("not_joined", "not_found", "conflict"),
        summary="answer the offer in flight (`conflict` when `revision` is not that offer's)",
    )
    async def on_media_answer(self, sid: str, data: MediaAnswer) -> Ok:
        room, participant = self.joined(sid)
        media = self._media(room.classroom_id)
        await media.answer(participant.user_id, data.revision, data.sdp)
        publishing = media.publishing(participant.user_id)
        if publishing != participant.publishing:
            participant.publishing = publishing
            await self.announce_update(room.classroom_id, participant)
        return Ok()

    @event(
        MediaCandidate,
        Ok,
        who=Who.JOINED,
        errors=("not_joined", "not_found"),
        summary="an ICE candidate of the client (`candidate` null or empty: end of candidates)",
    )
    async def on_media_candidate(self, sid: str, data: MediaCandidate) -> Ok:
        room, participant = self.joined(sid)
        await self._media(room.classroom_id).candidate(
            participant.user_id, data.candidate, data.sdpMid, data.sdpMLineIndex
        )
        return Ok()

    @event(
        Empty,
        MediaScreenAck,
        who=Who.PUBLISHER,
        errors=("not_joined", "not_found", "forbidden"),
        summary="open a `screen` m-line (once per peer); `renegotiating: true`: a `media_offer` follows",
    )
    async def on_media_screen(self, sid: str, data: Empty) -> MediaScreenAck:
        room, participant = self.joined_person(sid)
        require_may_publish(participant, ["screen"])
        renegotiating = await self._media(room.classroom_id).publish_screen(participant.user_id)
        return MediaScreenAck(renegotiating=renegotiating)

    @event(
        MediaState,
        Ok,
        who=Who.PERSON,
        errors=("not_joined", "forbidden"),
        rate=Rate.BROADCAST,
        summary="say what you muted or share, so others can show it",
    )
    async def on_media_state(self, sid: str, data: MediaState) -> Ok:
        room, participant = self.joined_person(sid)
        if data.screen_sharing:
            require_may_publish(participant, ["screen"])
        changes = data.model_dump(exclude_none=True)
        changed = {name: value for name, value in changes.items() if getattr(participant, name) != value}
        if changed:
            for name, value in changes.items():
                setattr(participant, name, value)
            await self.announce_update(room.classroom_id, participant)
            await self._note_media_state(room.classroom_id, participant, changed)
        return Ok()

    async def _note_media_state(
        self, classroom_id: int, participant: Participant, changed: dict[str, bool]
    ) -> None:
        """Mutes and screen shares on the class timeline."""
        who = {"user_id": participant.user_id, "display_name": participant.display_name}
        for name, value in changed.items():
            if name == "screen_sharing":
                kind = "screen_share_started" if value else "screen_share_stopped"
                await self.svc.timeline.note(classroom_id, kind, **who)
            else:
                source = "microphone" if name == "audio_muted" else "camera"
                kind = "muted" if value else "unmuted"
                await self.svc.timeline.note(classroom_id, kind, **who, source=source)

    @event(
        Empty,
        Ok,
        who=Who.JOINED,
        errors=("not_joined",),
        rate=Rate.BROADCAST,
        summary="stop media (the seat is kept)",
    )
    async def on_media_leave(self, sid: str, data: Empty) -> Ok:
        room, participant = self.joined(sid)
        await self.svc.media.leave(room.classroom_id, participant.user_id)
        if participant.publishing or participant.screen_sharing:
            sharing = participant.screen_sharing
            participant.publishing = []
            participant.screen_sharing = False
            await self.announce_update(room.classroom_id, participant)
            if sharing:
                await self._note_media_state(room.classroom_id, participant, {"screen_sharing": False})
        return Ok()

    @event(
        MediaPermission,
        Ok,
        who=Who.MODERATOR,
        errors=("not_joined", "forbidden", "not_found"),
        summary=(
            "allow or deny a student's microphone, camera or screen for the rest of this live classroom; "
            "a source denied mid-class stops reaching everyone at once"
        ),
    )
    async def on_media_permission(self, sid: str, data: MediaPermission) -> Ok:
        room, moderator, target = self._moderated(sid, data.user_id)
        require_can_set_media_rights(moderator, target)
        room.media_overrides.setdefault(target.user_id, {})[data.source] = data.allowed
        await self.apply_media_rights(room, target)
        return Ok()

    @event(
        MediaHealth,
        Ok,
        who=Who.PERSON,
        errors=("not_joined", "forbidden"),
        rate=Rate.BROADCAST,
        summary="say how your media connection is doing, so moderators can see who has a problem",
    )
    async def on_media_health(self, sid: str, data: MediaHealth) -> Ok:
        room, participant = self.joined_person(sid)
        await self._set_health(room, participant, data.state)
        return Ok()

    async def _set_health(self, room: ClassroomPresence, participant: Participant, state: str) -> None:
        if participant.media_health != state:
            participant.media_health = state
            await self.announce_update(room.classroom_id, participant)

    # -- MediaSignals ---------------------------------------------------------------------------------

    async def send_offer(self, classroom_id: int, user_id: int, offer: dict[str, Any]) -> None:
        """A renegotiation offer for one participant."""
        room = self.svc.presence.room(classroom_id)
        participant = room.participants.get(user_id) if room else None
        if participant is not None:
            await self.send(MediaOffer.model_validate(offer), to=participant.sid)

    async def speaker_changed(self, classroom_id: int, user_id: int | None) -> None:
        """The classroom's active speaker changed."""
        await self.send(ActiveSpeaker(user_id=user_id), room=room_name(classroom_id))
        room = self.svc.presence.room(classroom_id)
        speaker = room.participants.get(user_id) if room is not None and user_id is not None else None
        await self.svc.timeline.note(
            classroom_id,
            "speaker",
            user_id=speaker.user_id if speaker else None,
            display_name=speaker.display_name if speaker else None,
        )

    async def peer_failed(self, classroom_id: int, user_id: int) -> None:
        """A participant's peer connection failed (the server closed it): everyone sees the problem."""
        found = self.svc.presence.room(classroom_id)
        participant = found.participants.get(user_id) if found else None
        if found is None or participant is None:
            return
        if participant.publishing or participant.media_health != "failed":
            participant.publishing = []
            participant.media_health = "failed"
            await self.announce_update(classroom_id, participant)

    def may_send(self, classroom_id: int, publisher_id: int, source: str | None) -> bool:
        """Whether what ``publisher_id`` sends on an m-line opened for ``source`` may be forwarded at all
        (an m-line the server never opened for publishing carries nothing of theirs)."""
        room = self.svc.presence.room(classroom_id)
        publisher = room.participants.get(publisher_id) if room else None
        return publisher is not None and source is not None and source in publisher.may_publish

    def may_forward(self, classroom_id: int, publisher_id: int, subscriber_id: int) -> bool:
        """Media reaches every person; it reaches the robot only as recording consent allows."""
        room = self.svc.presence.room(classroom_id)
        subscriber = room.participants.get(subscriber_id) if room else None
        if subscriber is not None and not may_receive(subscriber):
            return False
        if subscriber is None or not subscriber.robot:
            return True
        publisher = room.participants.get(publisher_id) if room else None
        if publisher is not None and replay_reaches_robot(publisher):
            return True
        consent = publisher.recording_consent if publisher else None
        return may_reach_robot(self.svc.config.recording.consent, consent)

    def _media(self, classroom_id: int) -> ClassroomMedia:
        media = self.svc.media.get(classroom_id)
        if media is None:
            raise NotFound("start media first (media_join)")
        return media
