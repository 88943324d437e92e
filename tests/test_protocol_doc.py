"""docs/protocol.md describes the socket.io protocol the server speaks: its tables are the models'."""

from __future__ import annotations

from server.signalling.namespace_core import COMMON_ERRORS, EVENTS
from server.signalling.protocol_doc import DOC, ERROR_MEANINGS, documented, render


def test_the_socket_tables_in_the_document_are_generated_from_the_models() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert documented(text) == render(), "run `python -m server.signalling.protocol_doc`"


def test_every_event_and_error_code_is_documented() -> None:
    text = documented(DOC.read_text(encoding="utf-8"))
    for name, spec in EVENTS.items():
        assert f"| `{name}` |" in text
        for code in (*spec.errors, *COMMON_ERRORS):
            assert code in ERROR_MEANINGS, f"{name} answers {code}, which the error table lacks"
    for code in ("not_joined", "already_joined", "internal"):
        assert f"| `{code}` |" in text


def test_every_handler_of_the_namespace_is_in_the_table() -> None:
    from server.signalling.classroom_namespace import ClassroomNamespace

    handlers = {
        name.removeprefix("on_")
        for name in dir(ClassroomNamespace)
        if name.startswith("on_") and name not in ("on_connect", "on_disconnect")
    }
    assert handlers == set(EVENTS)
