"""Live classroom over socket.io: joining, seats, chat, hands and moderation, with real clients."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import socketio
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from tests.conftest import ClientFactory, ParticipantFactory
from tests.support import Participant


async def make_classroom(teacher: ClientSession, seat_limit: int = 10, students: tuple[str, ...] = ()) -> int:
    response = await teacher.post(
        "/api/classrooms", json={"name": "Physics 3B", "seat_limit": seat_limit, "students": list(students)}
    )
    assert response.status == 201, await response.text()
    return int((await response.json())["classroom"]["id"])


@pytest.fixture
async def people(users: dict[str, int], client_as: ClientFactory) -> dict[str, ClientSession]:
    return {name: await client_as(name) for name in ("teacher", "student", "student2", "teacher2", "admin")}


async def test_teacher_and_student_see_each_other_chat_and_raise_hands(
    people: dict[str, ClientSession], participant: ParticipantFactory
) -> None:
    classroom_id = await make_classroom(people["teacher"], students=("student",))
    teacher = await participant(people["teacher"])
    joined = await teacher.call("join", {"classroom_id": classroom_id})
    assert joined["ok"] is True
    assert joined["self"]["moderator"] is True
    assert [p["username"] for p in joined["participants"]] == ["teacher"]

    student = await participant(people["student"])
    answer = await student.call("join", {"classroom_id": classroom_id})
    assert {p["username"] for p in answer["participants"]} == {"teacher", "student"}
    assert answer["classroom"]["seats_used"] == 1  # seats are for students: the teacher takes none
    arrival = await teacher.next("participant_joined")
    assert arrival["participant"]["display_name"] == "Sam Student"
    assert arrival["participant"]["role"] == "student"
    assert arrival["seats_used"] == 1

    await student.call("chat", {"text": "  Good morning!  "})
    for person in (teacher, student):
        message = (await person.next("chat"))["message"]
        assert (message["display_name"], message["text"]) == ("Sam Student", "Good morning!")
    await teacher.call("chat", {"text": "Morning, Sam"})
    assert (await student.next("chat"))["message"]["text"] == "Morning, Sam"

    assert (await student.call("hand", {"raised": True})) == {"ok": True}
    update = await teacher.next("participant_updated")
    assert update["participant"]["username"] == "student"
    assert update["participant"]["hand_raised"] is True

    await student.call("leave")
    left = await teacher.next("participant_left")
    assert left == {"user_id": answer["self"]["user_id"], "reason": "left", "seats_used": 0}


async def test_chat_history_survives_a_reload(
    people: dict[str, ClientSession], participant: ParticipantFactory
) -> None:
    classroom_id = await make_classroom(people["teacher"], students=("student",))
    teacher = await participant(people["teacher"])
    await teacher.call("join", {"classroom_id": classroom_id})
    for n in range(3):
        await teacher.call("chat", {"text": f"note {n}"})
    await teacher.close()
    student = await participant(people["student"])
    answer = await student.call("join", {"classroom_id": classroom_id})
    assert [m["text"] for m in answer["chat"]] == ["note 0", "note 1", "note 2"]


async def test_a_full_classroom_refuses_the_next_person_and_changes_nothing(
    people: dict[str, ClientSession], participant: ParticipantFactory
) -> None:
    classroom_id = await make_classroom(people["teacher"], seat_limit=1, students=("student", "student2"))
    teacher = await participant(people["teacher"])
    await teacher.call("join", {"classroom_id": classroom_id})
    student = await participant(people["student"])
    await student.call("join", {"classroom_id": classroom_id})
    await teacher.next("participant_joined")

    late = await participant(people["student2"])
    refused = await late.call("join", {"classroom_id": classroom_id})
    assert refused["error"]["code"] == "classroom_full"
    assert refused["error"]["message"] == "This classroom is full: its one student seat is taken."
    assert (await late.next("error"))["event"] == "join"
    assert (await late.call("chat", {"text": "let me in"}))["error"]["code"] == "not_joined"
    await asyncio.sleep(0.2)
    assert teacher.pending("participant_joined") == 0
    assert teacher.pending("chat") == 0
    room = await people["teacher"].get(f"/api/classrooms/{classroom_id}")
    assert (await room.json())["classroom"]["seats_used"] == 1

    await student.call("leave")
    assert (await late.call("join", {"classroom_id": classroom_id}))["ok"] is True


async def test_the_same_user_in_a_second_window_takes_over_the_seat(
    people: dict[str, ClientSession], participant: ParticipantFactory
) -> None:
    classroom_id = await make_classroom(people["teacher"], seat_limit=1, students=("student",))
    teacher = await participant(people["teacher"])
    await teacher.call("join", {"classroom_id": classroom_id})
    first = await participant(people["student"])
    await first.call("join", {"classroom_id": classroom_id})
    await first.call("hand", {"raised": True})
    second = await participant(people["student"])
    answer = await second.call("join", {"classroom_id": classroom_id})
    assert answer["classroom"]["seats_used"] == 1
    assert [p["hand_raised"] for p in answer["participants"] if p["username"] == "student"] == [True]
    assert (await first.next("removed"))["reason"] == "joined_elsewhere"
    assert (await first.call("chat", {"text": "old tab"}))["error"]["code"] == "not_joined"


async def test_events_before_join_and_bad_payloads_get_clear_errors(
    people: dict[str, ClientSession], participant: ParticipantFactory
) -> None:
    classroom_id = await make_classroom(people["teacher"], students=("student",))
    student = await participant(people["student"])
    for event, data in [("chat", {"text": "hi"}), ("hand", {"raised": True}), ("leave", {})]:
        assert (await student.call(event, data))["error"]["code"] == "not_joined"
    bad_joins: list[Any] = [None, "7", {"classroom_id": "7"}, {"classroom_id": -1}, {"classroom_id": True}]
    for data in bad_joins:
        assert (await student.call("join", data))["error"]["code"] == "invalid", data
    assert (await student.call("join", {"classroom_id": 99999}))["error"]["code"] == "not_found"
    await student.call("join", {"classroom_id": classroom_id})
    for text in ["", "   ", 42, "x" * 2001]:
        assert (await student.call("chat", {"text": text}))["error"]["code"] == "invalid", text
    assert (await student.call("hand", {"raised": "yes"}))["error"]["code"] == "invalid"
    # The connection and the classroom still work after all of that.
    assert (await student.call("chat", {"text": "still here"}))["ok"] is True


async def test_chat_refuses_empty_and_over_long_messages_in_plain_words_and_dates_the_session(
    people: dict[str, ClientSession], participant: ParticipantFactory
) -> None:
    classroom_id = await make_classroom(people["teacher"], students=("student",))
    teacher = await participant(people["teacher"])
    first = await teacher.call("join", {"classroom_id": classroom_id})
    sent = (await teacher.call("chat", {"text": "Homework: page 12"}))["message"]
    assert sent["sent_at"] >= first["session_started_at"]
    for text, message in (
        ("", "A message cannot be empty."),
        (" \n\t ", "A message cannot be empty."),
        ("x" * 2001, "A message can be at most 2000 characters."),
    ):
        refused = await teacher.call("chat", {"text": text})
        assert refused["error"] == {"code": "invalid", "message": message}
        assert (await teacher.next("error"))["message"] == message
    assert (await teacher.call("chat", {"text": "x" * 2000}))["ok"] is True

    # The classroom empties: the next time it opens is a new session, and the old chat predates it.
    await teacher.call("leave")
    await asyncio.sleep(1.1)  # times travel to the second
    student = await participant(people["student"])
    again = await student.call("join", {"classroom_id": classroom_id})
    assert again["session_started_at"] > sent["sent_at"]
    assert [m["sent_at"] < again["session_started_at"] for m in again["chat"]] == [True, True]
    # Everyone who joins this session is told the same start.
    assert (await teacher.call("join", {"classroom_id": classroom_id}))["session_started_at"] == again[
        "session_started_at"
    ]


async def test_a_classroom_the_user_cannot_see_does_not_exist_for_them(
    people: dict[str, ClientSession], participant: ParticipantFactory
) -> None:
    classroom_id = await make_classroom(people["teacher"], students=("student",))
    for name in ("student2", "teacher2"):
        outsider = await participant(people[name])
        assert (await outsider.call("join", {"classroom_id": classroom_id}))["error"]["code"] == "not_found"
    admin = await participant(people["admin"])
    answer = await admin.call("join", {"classroom_id": classroom_id})
    assert answer["self"]["moderator"] is True


async def test_moderator_asks_to_mute_and_removes_a_student_who_cannot_come_back(
    people: dict[str, ClientSession], participant: ParticipantFactory
) -> None:
    classroom_id = await make_classroom(people["teacher"], students=("student", "student2"))
    teacher = await participant(people["teacher"])
    teacher_self = (await teacher.call("join", {"classroom_id": classroom_id}))["self"]
    student = await participant(people["student"])
    student_self = (await student.call("join", {"classroom_id": classroom_id}))["self"]
    other = await participant(people["student2"])
    await other.call("join", {"classroom_id": classroom_id})

    refused = await other.call("mute_request", {"user_id": student_self["user_id"], "kind": "audio"})
    assert refused["error"]["code"] == "forbidden"
    assert (await other.call("remove", {"user_id": student_self["user_id"]}))["error"]["code"] == "forbidden"
    assert (await student.call("remove", {"user_id": teacher_self["user_id"]}))["error"][
        "code"
    ] == "forbidden"

    await teacher.call("mute_request", {"user_id": student_self["user_id"], "kind": "audio"})
    asked = await student.next("mute_requested")
    assert (asked["kind"], asked["by"]["username"]) == ("audio", "teacher")
    assert other.pending("mute_requested") == 0

    assert (await teacher.call("remove", {"user_id": student_self["user_id"]}))["ok"] is True
    assert (await student.next("removed"))["reason"] == "removed"
    left = await other.next("participant_left")
    assert (left["user_id"], left["reason"]) == (student_self["user_id"], "removed")
    assert (await student.call("chat", {"text": "hey"}))["error"]["code"] == "not_joined"
    assert (await student.call("join", {"classroom_id": classroom_id}))["error"]["code"] == "forbidden"
    unknown = await teacher.call("remove", {"user_id": 123456})
    assert unknown["error"]["code"] == "not_found"


async def test_deleting_a_classroom_sends_everyone_away(
    people: dict[str, ClientSession], participant: ParticipantFactory
) -> None:
    classroom_id = await make_classroom(people["teacher"], students=("student",))
    student = await participant(people["student"])
    await student.call("join", {"classroom_id": classroom_id})
    assert (await people["teacher"].delete(f"/api/classrooms/{classroom_id}")).status == 204
    assert (await student.next("removed"))["reason"] == "classroom_deleted"
    assert (await student.call("chat", {"text": "hello?"}))["error"]["code"] == "not_joined"


async def test_sockets_need_a_session_and_the_same_origin(
    server: TestServer, people: dict[str, ClientSession], client_as: ClientFactory
) -> None:
    anonymous = Participant(server, await client_as(None))
    with pytest.raises(socketio.exceptions.ConnectionError):
        await anonymous.connect()
    foreign = Participant(server, people["student"])
    with pytest.raises(socketio.exceptions.ConnectionError):
        await foreign.connect(origin="https://evil.example")
    own = Participant(server, people["student"])
    await own.connect(origin=str(server.make_url("")).rstrip("/"))
    await own.close()


async def teacher_and_student_in_class(
    people: dict[str, ClientSession], participant: ParticipantFactory
) -> tuple[Participant, Participant]:
    _, teacher, student = await seat_teacher_and_student(people["teacher"], people["student"], participant)
    return teacher, student


async def seat_teacher_and_student(
    teacher_http: ClientSession, student_http: ClientSession, participant: ParticipantFactory
) -> tuple[int, Participant, Participant]:
    """A new classroom of the teacher's with the student enrolled, both seated in it (teacher first)."""
    classroom_id = await make_classroom(teacher_http, students=("student",))
    teacher = await participant(teacher_http)
    await teacher.call("join", {"classroom_id": classroom_id})
    student = await participant(student_http)
    await student.call("join", {"classroom_id": classroom_id})
    return classroom_id, teacher, student


async def test_oversized_socket_message_does_not_hurt_others(
    people: dict[str, ClientSession], participant: ParticipantFactory
) -> None:
    teacher, student = await teacher_and_student_in_class(people, participant)
    await teacher.next("participant_joined")
    await student.sio.emit("chat", {"text": "x" * 600_000}, namespace="/classroom")
    left = await teacher.next("participant_left")
    assert left["reason"] == "disconnected"
    assert teacher.pending("chat") == 0
    assert (await teacher.call("chat", {"text": "carry on"}))["ok"] is True


async def test_a_chat_flood_is_throttled_for_the_sender_only(
    people: dict[str, ClientSession], participant: ParticipantFactory
) -> None:
    teacher, student = await teacher_and_student_in_class(people, participant)
    answers = [await student.call("chat", {"text": f"spam {n}"}) for n in range(61)]
    assert all(answer.get("ok") for answer in answers[:60])
    assert answers[60]["error"]["code"] == "rate_limited"
    assert (await teacher.call("chat", {"text": "settle down"}))["ok"] is True
