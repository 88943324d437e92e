"""The classroom's recording as its participants live it: consent answers and every state change."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.permissions import require_consent_asked
from server.db.models import ConsentAnswer, Recording, StopReason, User
from server.errors import NotFound
from server.library.recordings import active_recording, described, is_active
from server.signalling.media_events import MediaEvents
from server.signalling.namespace_core import Rate, Who, event
from server.signalling.protocol import Ok, RecordingConsent, RecordingState

log = logging.getLogger(__name__)


class RecordingEvents(MediaEvents):
    @event(
        RecordingConsent,
        Ok,
        who=Who.PERSON,
        errors=("not_joined", "forbidden", "not_found"),
        rate=Rate.BROADCAST,
        summary=(
            "answer whether you may be recorded (consent mode `ask`, while a recording runs); a decliner's "
            "media is not forwarded to the robot at all, and an accepted answer lets it through from then on"
        ),
    )
    async def on_recording_consent(self, sid: str, data: RecordingConsent) -> Ok:
        room, participant = self.joined_person(sid)
        require_consent_asked(self.svc.config.recording.consent)
        async with self.svc.db() as db:
            recording = await active_recording(db, room.classroom_id)
            if recording is None:
                raise NotFound("this classroom is not being recorded")
            db.add(
                ConsentAnswer(
                    recording_id=recording.id,
                    user_id=participant.user_id,
                    display_name=participant.display_name,
                    accepted=data.accepted,
                )
            )
            await db.commit()
        log.info(
            "recording consent",
            extra={"recording_id": recording.id, "user_id": participant.user_id, "accepted": data.accepted},
        )
        participant.recording_consent = data.accepted
        media = self.svc.media.get(room.classroom_id)
        if media is not None:
            await media.refresh_forwarding(participant.user_id)
        await self.announce_update(room.classroom_id, participant)
        return Ok()

    async def recording_changed(self, recording: Recording, reason: StopReason | None) -> None:
        """Every state change of a recording reaches each participant, with their rights on it."""
        if recording.classroom_id is None:
            return
        classroom_id = recording.classroom_id
        room = self.svc.presence.room(classroom_id)
        people = [p for p in room.participants.values() if not p.robot] if room else []
        async with self.svc.db() as db:
            if recording.state == "starting":
                # A new recording asks anew; an answer already given to it (the row exists before this
                # notice goes out) is kept, or the robot would miss someone who said yes.
                answers = await consent_answers(db, recording.id)
                for participant in people:
                    participant.recording_consent = answers.get(participant.user_id)
            elif not is_active(recording):
                for participant in people:
                    participant.recording_consent = None  # answers belong to the recording that ended
            users = {
                user.id: user
                for user in await db.scalars(select(User).where(User.id.in_([p.user_id for p in people])))
            }
            for participant in people:
                user = users.get(participant.user_id)
                if user is None:
                    continue
                body = await described(db, recording, user)
                await self.send(RecordingState(recording=body, reason=reason), to=participant.sid)
        media = self.svc.media.get(classroom_id)
        if recording.state == "starting" and media is not None:
            # Whatever a robot already receives follows this recording's answers, not an earlier one's.
            for participant in people:
                await media.refresh_forwarding(participant.user_id)
        if not is_active(recording):
            await self.end_robot(recording.id)
        await self.notify_watchers(classroom_id)


async def consent_answers(db: AsyncSession, recording_id: int) -> dict[int, bool]:
    """Each person's latest answer for one recording."""
    rows = await db.execute(
        select(ConsentAnswer.user_id, ConsentAnswer.accepted)
        .where(ConsentAnswer.recording_id == recording_id, ConsentAnswer.user_id.is_not(None))
        .order_by(ConsentAnswer.id)
    )
    return {user_id: accepted for user_id, accepted in rows.tuples() if user_id is not None}
