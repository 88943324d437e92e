"""A classroom's codes lists: a moderator writes them, REC picks one, and a recording keeps its copy."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.db.models import Recording
from server.services import SERVICES
from tests.conftest import ClientFactory

LESSON: dict[str, Any] = {
    "name": "Lesson",
    "codes": [
        {"code": "Q", "label": "Question", "key": "q"},
        {"code": "off-task", "label": "Off task", "key": None},
    ],
}


async def make_classroom(client_as: ClientFactory) -> tuple[Any, int]:
    teacher = await client_as("teacher")
    response = await teacher.post("/api/classrooms", json={"name": "Biology", "students": ["student"]})
    return teacher, (await response.json())["classroom"]["id"]


async def test_a_moderator_writes_codes_lists_and_reads_them_back(
    users: dict[str, int], client_as: ClientFactory
) -> None:
    teacher, classroom_id = await make_classroom(client_as)
    url = f"/api/classrooms/{classroom_id}/codes"
    assert await (await teacher.get(url)).json() == {"lists": []}
    written = await teacher.put(url, json={"lists": [LESSON, {"name": "Empty", "codes": []}]})
    assert written.status == 200, await written.text()
    got = await (await teacher.get(url)).json()
    assert got == {"lists": [LESSON, {"name": "Empty", "codes": []}]}
    # A code without a label is labelled with itself.
    relabelled = await teacher.put(url, json={"lists": [{"name": "Short", "codes": [{"code": "A"}]}]})
    assert (await relabelled.json())["lists"][0]["codes"] == [{"code": "A", "label": "A", "key": None}]


async def test_bad_codes_lists_are_refused_field_by_field_and_change_nothing(
    users: dict[str, int], client_as: ClientFactory
) -> None:
    teacher, classroom_id = await make_classroom(client_as)
    url = f"/api/classrooms/{classroom_id}/codes"
    assert (await teacher.put(url, json={"lists": [LESSON]})).status == 200
    bad = {
        "lists": [
            {
                "name": "Scheme",
                "codes": [
                    {"code": "has space", "label": "x"},
                    {"code": "A", "key": "a"},
                    {"code": "A", "key": "ab"},
                    {"code": "B", "key": "A"},  # keys are told apart without case
                ],
            },
            {"name": "scheme", "codes": []},
        ]
    }
    refused = await teacher.put(url, json=bad)
    assert refused.status == 400
    fields = (await refused.json())["error"]["fields"]
    assert set(fields) == {
        "lists.0.codes.0.code",
        "lists.0.codes.2.code",
        "lists.0.codes.2.key",
        "lists.0.codes.3.key",
        "lists.1.name",
    }, fields
    too_many = {"lists": [{"name": f"L{i}", "codes": []} for i in range(21)]}
    assert (await teacher.put(url, json=too_many)).status == 400
    assert await (await teacher.get(url)).json() == {"lists": [LESSON]}

    student = await client_as("student")
    assert (await student.get(url)).status == 403
    assert (await student.put(url, json={"lists": []})).status == 403
    assert await (await teacher.get(url)).json() == {"lists": [LESSON]}


async def test_rec_with_an_unknown_codes_list_is_refused_and_records_nothing(
    users: dict[str, int], client_as: ClientFactory, app: web.Application
) -> None:
    teacher, classroom_id = await make_classroom(client_as)
    await teacher.put(f"/api/classrooms/{classroom_id}/codes", json={"lists": [LESSON]})
    refused = await teacher.post(f"/api/classrooms/{classroom_id}/recording", json={"codes_list": "Nope"})
    assert refused.status == 400
    assert "codes_list" in (await refused.json())["error"]["fields"]
    async with app[SERVICES].db() as db:
        assert await db.get(Recording, 1) is None
