"""The timeline's files as a player or an editor reads them: WebVTT that parses, one text line per event,
and the original clock across a pause."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from server.db.models import Recording, TimelineEvent
from server.library.chapters import Chapter
from server.library.timeline import Anchor, clock_anchors, original_time
from server.library.timeline_export import chapters_vtt, chat_vtt, media_stamp, timeline_text

T0 = datetime(2026, 12, 2, 9, 0, 0, tzinfo=UTC)


def event(kind: str, media_ms: int, **data: object) -> TimelineEvent:
    return TimelineEvent(
        type=kind, media_ms=media_ms, at=T0 + timedelta(milliseconds=media_ms), data=json.dumps(data)
    )


def clock(media_ms: int) -> str:
    """The server's time of day at ``T0`` plus ``media_ms``."""
    return f"{(T0 + timedelta(milliseconds=media_ms)).astimezone():%H:%M:%S}"


def test_chat_cues_are_escaped_end_at_the_next_message_and_stay_within_the_file() -> None:
    events = [
        event("chat", 1000, display_name="Ada <admin>", text="a <b>bold</b> claim --> yes\n\nsecond line"),
        event("chat", 3000, display_name="Bo", text="R&D"),
        event("join", 3500, display_name="Cy", role="student"),
    ]
    vtt = chat_vtt(events, duration_ms=4000)
    assert vtt == (
        "WEBVTT\n\n"
        "1\n00:00:01.000 --> 00:00:03.000\n"
        "<v Ada &lt;admin&gt;>a &lt;b>bold&lt;/b> claim --&gt; yes\nsecond line\n"
        "\n"
        "2\n00:00:03.000 --> 00:00:04.000\n<v Bo>R&amp;D\n"
    )


def test_chapters_vtt_has_one_cue_per_chapter() -> None:
    chapters = [
        Chapter(0, 61_000, "Start", "start"),
        Chapter(61_000, 3_723_456, "Question — why?", "bookmark", 4),
    ]
    assert chapters_vtt(chapters) == (
        "WEBVTT\n\n1\n00:00:00.000 --> 00:01:01.000\nStart\n\n"
        "2\n00:01:01.000 --> 01:02:03.456\nQuestion — why?\n"
    )
    assert media_stamp(3_723_456) == "01:02:03.456"


def test_the_text_export_has_one_line_per_event_with_its_time_of_day_first() -> None:
    events = [
        event("recording_started", 0, by={"id": 1, "display_name": "Tess"}, participants=[]),
        event("chat", 1500, user_id=2, display_name="Sam", text="two\nlines"),
        event(
            "bookmark", 2000, code="Q", label="Question", remark="why?", by={"id": 1, "display_name": "Tess"}
        ),
        event("bookmark", 2200, code=None, label=None, remark=None, by={"id": 1, "display_name": "Tess"}),
        event("recording_stopped", 2500),
    ]
    lines = timeline_text(events).splitlines()
    assert lines == [
        f"{clock(0)}  00:00:00.000  Recording started by Tess; present: nobody",
        f"{clock(1500)}  00:00:01.500  Sam: two / lines",
        f"{clock(2000)}  00:00:02.000  Bookmark: Question — why? by Tess",
        f"{clock(2200)}  00:00:02.200  Bookmark by Tess",
        f"{clock(2500)}  00:00:02.500  Recording stopped",
    ]


def test_the_original_clock_skips_the_paused_time() -> None:
    recording = Recording(started_at=T0)
    resumed = TimelineEvent(type="resumed", media_ms=10_000, at=T0 + timedelta(seconds=15), data="{}")
    anchors = clock_anchors(recording, [event("chat", 5000), resumed])
    assert anchors == [Anchor(0, T0), Anchor(10_000, T0 + timedelta(seconds=15))]
    assert original_time(anchors, 9_000) == T0 + timedelta(seconds=9)
    assert original_time(anchors, 12_000) == T0 + timedelta(seconds=17)
