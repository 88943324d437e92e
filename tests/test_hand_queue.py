"""Raised hands form a queue in the order they went up; moderators lower one hand or all of them."""

from __future__ import annotations

from typing import Any

from aiohttp import ClientSession, web

from tests.conftest import ClientFactory, ParticipantFactory
from tests.support import Participant, add_user


def queue(participants: dict[int, dict[str, Any]]) -> list[int]:
    """The hand queue as a page builds it from the server's fields: raised hands by raise time."""
    raised = [p for p in participants.values() if p["hand_raised"]]
    return [p["user_id"] for p in sorted(raised, key=lambda p: (p["hand_raised_at"], p["user_id"]))]


async def follow(person: Participant, participants: dict[int, dict[str, Any]], updates: int) -> None:
    """Apply the next ``updates`` participant_updated events to ``participants``."""
    for _ in range(updates):
        update = (await person.next("participant_updated"))["participant"]
        participants[update["user_id"]] = update


async def test_hands_queue_in_raise_order_and_moderators_lower_one_or_all(
    app: web.Application, users: dict[str, int], client_as: ClientFactory, participant: ParticipantFactory
) -> None:
    students = ("student", "student2", "student3")
    users["student3"] = await add_user(app, "student3", "student", "Tia Student")
    teacher_http: ClientSession = await client_as("teacher")
    response = await teacher_http.post(
        "/api/classrooms", json={"name": "History", "students": list(students)}
    )
    classroom_id = (await response.json())["classroom"]["id"]
    teacher = await participant(teacher_http)
    await teacher.call("join", {"classroom_id": classroom_id})
    seated: dict[str, Participant] = {}
    for name in students:
        seated[name] = await participant(await client_as(name))
        joined = await seated[name].call("join", {"classroom_id": classroom_id})
    # The last to arrive follows the classroom: its join ack lists everyone, then it applies the updates.
    late = seated["student3"]
    participants = {p["user_id"]: p for p in joined["participants"]}
    assert queue(participants) == []
    assert all(p["hand_raised_at"] is None for p in participants.values())

    # Raised in the order student2, student3, student: the queue keeps it, whatever the user ids.
    for name in ("student2", "student3", "student"):
        assert (await seated[name].call("hand", {"raised": True})) == {"ok": True}
    await follow(late, participants, 3)
    order = [users["student2"], users["student3"], users["student"]]
    assert queue(participants) == order

    # A student lowers no one else's hand.
    refused = await seated["student"].call("lower_hand", {"user_id": users["student2"]})
    assert refused["error"]["code"] == "forbidden"
    assert (await seated["student"].next("error"))["event"] == "lower_hand"

    # The moderator takes the first question: that hand comes down, the others keep their places.
    assert (await teacher.call("lower_hand", {"user_id": users["student2"]})) == {"ok": True}
    await follow(late, participants, 1)
    assert participants[users["student2"]]["hand_raised_at"] is None
    assert queue(participants) == order[1:]

    # Raising again goes to the end of the queue; lowering your own hand leaves it.
    await seated["student2"].call("hand", {"raised": True})
    await seated["student3"].call("hand", {"raised": False})
    await follow(late, participants, 2)
    assert queue(participants) == [users["student"], users["student2"]]

    # Lowering every hand at once.
    assert (await teacher.call("lower_hand", {"user_id": None})) == {"ok": True}
    await follow(late, participants, 2)
    assert queue(participants) == []
    assert all(not p["hand_raised"] for p in participants.values())
    assert (await teacher.call("lower_hand", {"user_id": 999_999}))["error"]["code"] == "not_found"
