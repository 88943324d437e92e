"""Forms hear about every problem at once, in words a person can act on, keyed by the field to mark."""

from __future__ import annotations

import re
from typing import Any

from tests.conftest import ClientFactory

# What no message shown next to a field may look like: a raw field name as a prefix ("seat_limit: 1 to 500").
RAW_PREFIX = re.compile(r"^[a-z_]+: ")


async def refusal(response: Any) -> dict[str, Any]:
    assert response.status == 400, await response.text()
    error: dict[str, Any] = (await response.json())["error"]
    assert error["code"] == "invalid"
    for text in [error["message"], *error["fields"].values()]:
        assert not RAW_PREFIX.match(text), text
        assert text[0].isupper(), text
        assert text.endswith("."), text
    return error


async def test_a_new_classroom_with_two_bad_fields_reports_both(
    users: dict[str, int], client_as: ClientFactory
) -> None:
    teacher = await client_as("teacher")
    error = await refusal(await teacher.post("/api/classrooms", json={"name": "   ", "seat_limit": 0}))
    assert error["fields"] == {
        "name": "Enter a classroom name.",
        "seat_limit": "Seats must be between 1 and 500.",
    }
    assert error["message"] == "Please correct the 2 fields marked."
    assert (await (await teacher.get("/api/classrooms")).json())["classrooms"] == []


async def test_type_errors_and_unknown_people_are_reported_with_the_other_fields(
    users: dict[str, int], client_as: ClientFactory
) -> None:
    teacher = await client_as("teacher")
    # Wrong types are found by the body's model, every one of them.
    error = await refusal(await teacher.post("/api/classrooms", json={"name": 7, "seat_limit": "many"}))
    assert error["fields"] == {"name": "Enter text.", "seat_limit": "Enter a whole number."}
    # Unknown people, a student as moderator and a bad seat limit are found together.
    body = {
        "name": "Physics",
        "seat_limit": 501,
        "students": ["nobody", "student"],
        "moderators": ["student2"],
    }
    error = await refusal(await teacher.post("/api/classrooms", json=body))
    assert set(error["fields"]) == {"seat_limit", "students"}
    assert error["fields"]["students"] == "There is no user named nobody."
    body = {"name": "Physics", "students": ["student"], "moderators": ["student2"]}
    error = await refusal(await teacher.post("/api/classrooms", json=body))
    assert "student2" in error["fields"]["moderators"]
    assert error["message"] == error["fields"]["moderators"]


async def test_a_classroom_change_with_problems_changes_nothing(
    users: dict[str, int], client_as: ClientFactory
) -> None:
    teacher = await client_as("teacher")
    created = await teacher.post("/api/classrooms", json={"name": "Physics", "students": ["student"]})
    room = (await created.json())["classroom"]
    assert room["student_media"] == {"microphone": True, "camera": True, "screen": False}
    path = f"/api/classrooms/{room['id']}"
    body = {"name": "x" * 121, "seat_limit": 0, "students": ["student2"], "student_media": {"screen": True}}
    error = await refusal(await teacher.patch(path, json=body))
    assert error["fields"] == {
        "name": "A classroom name can have at most 120 characters.",
        "seat_limit": "Seats must be between 1 and 500.",
    }
    kept = (await (await teacher.get(path)).json())["classroom"]
    assert (kept["name"], kept["seat_limit"], kept["student_media"]["screen"]) == ("Physics", 30, False)
    assert [s["username"] for s in kept["students"]] == ["student"]
    changed = await teacher.patch(path, json={"student_media": {"camera": False, "screen": True}})
    assert (await changed.json())["classroom"]["student_media"] == {
        "microphone": True,
        "camera": False,
        "screen": True,
    }


async def test_a_new_user_with_three_bad_fields_reports_all_three(
    users: dict[str, int], client_as: ClientFactory
) -> None:
    admin = await client_as("admin")
    body = {"username": "x", "password": "short", "role": "student", "display_name": "\u202e"}
    error = await refusal(await admin.post("/api/users", json=body))
    assert set(error["fields"]) == {"username", "password", "display_name"}
    assert error["fields"]["password"] == "A password needs 8 to 256 characters."
    assert error["message"] == "Please correct the 3 fields marked."
    error = await refusal(await admin.post("/api/users", json={"username": "newbie", "role": "king"}))
    assert set(error["fields"]) == {"password", "role"}
    assert error["fields"]["password"] == "This is required."
    changed = await admin.patch(
        f"/api/users/{users['student']}", json={"password": "1234", "display_name": ""}
    )
    error = await refusal(changed)
    assert error["fields"] == {
        "password": "A password needs 8 to 256 characters.",
        "display_name": "Enter a display name.",
    }


async def test_the_directory_finds_people_by_part_of_a_name_without_accents(
    users: dict[str, int], client_as: ClientFactory
) -> None:
    admin = await client_as("admin")
    created = await admin.post(
        "/api/users",
        json={
            "username": "lea",
            "password": "a good password",
            "role": "student",
            "display_name": "Léa Dubois",
        },
    )
    assert created.status == 201
    teacher = await client_as("teacher")
    found = await (await teacher.get("/api/users/directory", params={"q": "DUB le"})).json()
    assert [u["display_name"] for u in found["users"]] == ["Léa Dubois"]
    students = await (
        await teacher.get("/api/users/directory", params={"q": "stu", "role": "student"})
    ).json()
    assert [u["username"] for u in students["users"]] == ["student", "student2"]
    assert set(students["users"][0]) == {"id", "username", "display_name", "role"}
    refused = await refusal(await teacher.get("/api/users/directory", params={"role": "king"}))
    assert set(refused["fields"]) == {"role"}
    assert (await (await client_as("student")).get("/api/users/directory")).status == 403


async def test_a_bad_robot_name_is_said_next_to_its_field_and_changes_nothing(
    users: dict[str, int], client_as: ClientFactory
) -> None:
    teacher = await client_as("teacher")
    for typed in ("   ", "R" * 81, "Robot \u202e"):
        error = await refusal(
            await teacher.patch("/api/me/settings", json={"robot_name": typed, "recording_reminder": True})
        )
        assert list(error["fields"]) == ["robot_name"]
        assert error["message"] == error["fields"]["robot_name"]
    settings = (await (await teacher.get("/api/me/settings")).json())["settings"]
    assert (settings["recording_reminder"], settings["robot_name"]) == (False, "Session Recorder Robot")
