"""Connection health: what each page reports about its media reaches everyone, and a peer connection that
fails is marked failed by the server itself, so a moderator sees who has a problem."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import ClientFactory, ParticipantFactory
from tests.media_support import Classroom, wait_for
from tests.support import Participant
from tests.synthetic_media import SyntheticAudioTrack


async def health_of(person: Any, user_id: int) -> dict[str, Any]:
    """The next participant_updated about ``user_id`` (for a socket.io test participant or a media client)."""
    while True:
        if isinstance(person, Participant):
            update = await person.next("participant_updated")
        else:
            update = await person.next_event("participant_updated")
        if update["participant"]["user_id"] == user_id:
            return dict(update["participant"])


async def test_a_participants_report_reaches_everyone_once_per_change(
    users: dict[str, int], client_as: ClientFactory, participant: ParticipantFactory
) -> None:
    teacher_http = await client_as("teacher")
    response = await teacher_http.post("/api/classrooms", json={"name": "Maths", "students": ["student"]})
    classroom_id = (await response.json())["classroom"]["id"]
    teacher = await participant(teacher_http)
    await teacher.call("join", {"classroom_id": classroom_id})
    student = await participant(await client_as("student"))
    joined = await student.call("join", {"classroom_id": classroom_id})
    assert joined["self"]["media_health"] == "unknown"

    for state in ("connecting", "connected", "no_media"):
        assert (await student.call("media_health", {"state": state})) == {"ok": True}
        assert (await health_of(teacher, users["student"]))["media_health"] == state
    # The same report again is not news.
    assert (await student.call("media_health", {"state": "no_media"})) == {"ok": True}
    await asyncio.sleep(0.3)
    assert teacher.pending("participant_updated") == 0
    refused = await student.call("media_health", {"state": "fine"})
    assert refused["error"]["code"] == "invalid"
    # A reload starts afresh: the new page has not connected anything yet.
    await student.close()
    again = await participant(await client_as("student"))
    assert (await again.call("join", {"classroom_id": classroom_id}))["self"]["media_health"] == "unknown"


@pytest.mark.usefixtures("private_namespace")
async def test_a_peer_connection_lost_without_media_leave_shows_as_failed_to_everyone(
    classroom: Classroom, users: dict[str, int]
) -> None:
    teacher = await classroom.enter("teacher")
    student = await classroom.enter("student", {"microphone": SyntheticAudioTrack(440)})
    while (await health_of(teacher, users["student"]))["publishing"] != ["microphone"]:
        pass
    pc = student.pc
    assert pc is not None
    await wait_for(lambda: pc.connectionState == "connected", 15)
    await pc.close()  # the tab's media died; its socket is still there
    update = await health_of(teacher, users["student"])
    assert (update["media_health"], update["publishing"]) == ("failed", [])
    while (await health_of(student, users["student"]))["media_health"] != "failed":
        pass  # their own earlier updates (what they publish) come first

    # The page reconnects its media and says so: the problem is gone for everyone.
    student.pc = None
    await student.start_media()
    assert (await student.call("media_health", {"state": "connected"}))["ok"] is True
    while (await health_of(teacher, users["student"]))["media_health"] != "connected":
        pass
