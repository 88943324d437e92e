"""The classroom's recording as its participants live it: consent answers, every state change, and what
the recording holds (the robot's reports of whose media it receives, with a warning when it is nobody's)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.permissions import require_consent_asked
from server.db.models import ConsentAnswer, Recording, StopReason, User
from server.errors import NotFound
from server.library.recordings import active_recording, described, is_active
from server.services import Services
from server.signalling.media_events import MediaEvents
from server.signalling.namespace_core import Rate, Who, event
from server.signalling.protocol import Ok, RecordingConsent, RecordingMedia, RecordingState

log = logging.getLogger(__name__)

NO_MEDIA_AFTER = 3.0
"""Seconds a recording may run with nobody's media before its moderators are warned. The robot reports
every second, so they hear within about 4 s of REC (the promise is 5)."""
Warning = Literal["no_media"] | None


@dataclass
class _MediaReport:
    """What one recording's moderators have been told about its media."""

    classroom_id: int
    started: float
    "When the recording started (event loop time)."
    classroom_ids: tuple[int, ...] = ()
    "Every classroom whose moderators hear of it (a composite session's: all it covers)."
    receiving: tuple[int, ...] = ()
    "The robot's latest report (nobody before its first)."
    told: tuple[tuple[int, ...], Warning] | None = None
    "The last state sent; ``told_sids`` are the moderators' sockets that have it."
    told_sids: set[str] = field(default_factory=set)
    deadline: asyncio.Task[None] | None = None


class RecordingEvents(MediaEvents):
    def __init__(self, svc: Services) -> None:
        super().__init__(svc)
        self._media_reports: dict[int, _MediaReport] = {}

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
        await self.svc.timeline.note(
            room.classroom_id,
            "consent",
            user_id=participant.user_id,
            display_name=participant.display_name,
            accepted=data.accepted,
        )
        media = self.svc.media.get(room.classroom_id)
        if media is not None:
            await media.refresh_forwarding(participant.user_id)
        await self.announce_update(room.classroom_id, participant)
        return Ok()

    async def recording_changed(self, recording: Recording, reason: StopReason | None) -> None:
        """Every state change of a recording reaches each participant, with their rights on it: in each
        classroom it covers (its own, or every classroom of a composite session)."""
        covered = [c.classroom_id for c in recording.covers if c.classroom_id is not None]
        if recording.classroom_id is not None and recording.classroom_id not in covered:
            covered.insert(0, recording.classroom_id)
        if recording.state not in ("starting", "recording"):
            # Closed also when every classroom it covered is gone (none of them would refresh it).
            await self.svc.timeline.recording_ended(recording.id)
        if not covered:
            return
        for classroom_id in covered:
            await self._recording_changed_in(classroom_id, recording, reason)
        if recording.state == "starting":
            self._media_report(covered[0], recording.id, tuple(covered))
        elif recording.state != "recording":
            self._forget_media(recording.id)
        if not is_active(recording):
            await self.end_robot(recording.id)
        for classroom_id in covered:
            await self.notify_watchers(classroom_id)

    async def _recording_changed_in(
        self, classroom_id: int, recording: Recording, reason: StopReason | None
    ) -> None:
        await self.svc.timeline.refresh(classroom_id)
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

    async def recording_media(self, classroom_id: int, recording_id: int, receiving: list[int]) -> None:
        """The robot's report of whose media it receives now: moderators hear of each change (a moderator
        who arrives later, at the next report), and ``no_media`` once the recording has run
        ``NO_MEDIA_AFTER`` seconds with nobody's."""
        report = self._media_report(classroom_id, recording_id)
        report.receiving = tuple(sorted(set(receiving)))
        await self._tell_media(recording_id, report)

    def _media_report(
        self, classroom_id: int, recording_id: int, classroom_ids: tuple[int, ...] = ()
    ) -> _MediaReport:
        report = self._media_reports.get(recording_id)
        if report is not None and classroom_ids:
            report.classroom_ids = classroom_ids
        if report is None:
            run = self.svc.recorders.robot_of(recording_id)
            started = run.started_at if run is not None else asyncio.get_running_loop().time()
            report = self._media_reports[recording_id] = _MediaReport(
                classroom_id, started, classroom_ids or (classroom_id,)
            )
            # Even a robot that never reports (it could not join) leaves the moderators warned on time.
            report.deadline = asyncio.create_task(self._no_media_deadline(recording_id, report))
        return report

    def _forget_media(self, recording_id: int) -> None:
        report = self._media_reports.pop(recording_id, None)
        if report is not None and report.deadline is not None:
            report.deadline.cancel()

    async def _no_media_deadline(self, recording_id: int, report: _MediaReport) -> None:
        await asyncio.sleep(max(0.0, report.started + NO_MEDIA_AFTER - asyncio.get_running_loop().time()))
        if self._media_reports.get(recording_id) is report:
            try:
                await self._tell_media(recording_id, report)
            except Exception:
                log.exception("recording media warning not sent", extra={"recording_id": recording_id})

    async def _tell_media(self, recording_id: int, report: _MediaReport) -> None:
        running = asyncio.get_running_loop().time() - report.started
        warning: Warning = "no_media" if not report.receiving and running >= NO_MEDIA_AFTER else None
        state = (report.receiving, warning)
        if state != report.told:
            report.told, report.told_sids = state, set()
        moderators: set[str] = set()
        for classroom_id in report.classroom_ids or (report.classroom_id,):
            room = self.svc.presence.room(classroom_id)
            people = room.participants.values() if room is not None else ()
            moderators |= {p.sid for p in people if p.moderator and not p.robot}
        message = RecordingMedia(recording_id=recording_id, receiving=list(report.receiving), warning=warning)
        for sid in moderators - report.told_sids:
            await self.send(message, to=sid)
        report.told_sids = moderators


async def consent_answers(db: AsyncSession, recording_id: int) -> dict[int, bool]:
    """Each person's latest answer for one recording."""
    rows = await db.execute(
        select(ConsentAnswer.user_id, ConsentAnswer.accepted)
        .where(ConsentAnswer.recording_id == recording_id, ConsentAnswer.user_id.is_not(None))
        .order_by(ConsentAnswer.id)
    )
    return {user_id: accepted for user_id, accepted in rows.tuples() if user_id is not None}
