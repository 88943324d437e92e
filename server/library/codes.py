"""A classroom's codes lists (Noldus Viso's coding schemes): what a moderator scores while recording.

A list is ``{"name", "codes": [{"code", "label", "key"}]}``; ``key`` is the keyboard key that adds a
bookmark with that code on the classroom page (one printable character, or None). The moderator picks a
list at REC; the recording keeps a copy (``Recording.codes_list``), so editing the classroom's lists later
changes no recording's bookmarks.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from pydantic import Field

from server.api.registry import Body
from server.db.models import Classroom, Recording
from server.errors import FieldProblems, Invalid
from server.names import check_text

MAX_LISTS = 20
MAX_CODES = 100
NAME_MAX = 80
LABEL_MAX = 120
CODE_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,40}")


class CodeBody(Body):
    code: str = Field(max_length=400)
    label: str | None = Field(default=None, max_length=1000)
    key: str | None = Field(default=None, max_length=10)


class CodesListBody(Body):
    name: str = Field(max_length=1000)
    codes: list[CodeBody] = Field(default_factory=list, max_length=MAX_CODES)


class CodesBody(Body):
    lists: list[CodesListBody] = Field(max_length=MAX_LISTS)


def check_codes_lists(body: CodesBody) -> list[dict[str, Any]]:
    """The lists as stored, or ``Invalid`` naming every bad field (``lists.0.codes.2.key``): names unique
    across the classroom's lists, codes and keys unique within a list."""
    problems = FieldProblems()
    lists: list[dict[str, Any]] = []
    names: set[str] = set()
    for i, listed in enumerate(body.lists):
        where = f"lists.{i}"
        name = problems.check(f"{where}.name", functools.partial(check_text, listed.name, "name", NAME_MAX))
        if name is not None and name.casefold() in names:
            problems.add(f"{where}.name", "Another list has this name.")
        names.add((name or "").casefold())
        codes: list[dict[str, Any]] = []
        seen_codes: set[str] = set()
        seen_keys: set[str] = set()
        for j, item in enumerate(listed.codes):
            at = f"{where}.codes.{j}"
            code = item.code.strip()
            if CODE_PATTERN.fullmatch(code) is None:
                problems.add(f"{at}.code", "Use 1 to 40 letters, digits, _ or -.")
            elif code in seen_codes:
                problems.add(f"{at}.code", "This code is already in the list.")
            seen_codes.add(code)
            label = (
                problems.check(f"{at}.label", functools.partial(check_text, item.label, "label", LABEL_MAX))
                if item.label
                else code
            )
            key = item.key
            if key is not None:
                if len(key) != 1 or not key.isprintable() or key.isspace():
                    problems.add(f"{at}.key", "Use one printable character, or no key.")
                elif key.casefold() in seen_keys:
                    problems.add(f"{at}.key", "Another code of this list has this key.")
                seen_keys.add(key.casefold())
            codes.append({"code": code, "label": label, "key": key})
        lists.append({"name": name, "codes": codes})
    problems.raise_if_any()
    return lists


def classroom_codes_lists(classroom: Classroom) -> list[dict[str, Any]]:
    """The classroom's lists as stored (an unreadable value counts as none)."""
    return _json_list(classroom.codes_lists)


def find_codes_list(classroom: Classroom, name: str) -> dict[str, Any]:
    """The list REC was asked to use, or ``Invalid`` on ``codes_list`` when the classroom has none of
    that name."""
    for listed in classroom_codes_lists(classroom):
        if listed.get("name") == name:
            return listed
    raise Invalid.of_field("codes_list", f"This classroom has no codes list named {name!r}.")


def recording_codes_list(recording: Recording) -> dict[str, Any] | None:
    """The copy of the list picked at REC (None: recorded without one)."""
    if not recording.codes_list:
        return None
    try:
        found = json.loads(recording.codes_list)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def code_label(recording: Recording, code: str) -> str:
    """The label of ``code`` in the recording's list; ``Invalid`` on ``code`` when it is not there."""
    listed = recording_codes_list(recording)
    for item in listed.get("codes", []) if listed else []:
        if item.get("code") == code:
            return str(item.get("label") or code)
    if listed is None:
        raise Invalid.of_field("code", "This recording has no codes list: add a remark instead.")
    raise Invalid.of_field("code", f"{code!r} is not a code of the list {listed.get('name')!r}.")


def _json_list(text: str | None) -> list[dict[str, Any]]:
    try:
        found = json.loads(text or "[]")
    except ValueError:
        return []
    return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []
