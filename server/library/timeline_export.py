"""A recording's timeline as files people open: ``timeline.txt`` (one line per event, the original time
of day first, in the spirit of OpenSpace's text export), ``chapters.vtt`` and ``chat.vtt`` (WebVTT, for any
player beside the MP4)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from server.db.models import TimelineEvent
from server.library.chapters import Chapter
from server.library.media_clock import as_utc
from server.library.timeline import event_data

CHAT_CUE_MS = 5000
"How long a chat line stays up in ``chat.vtt`` (less when the next message comes sooner)."


def media_stamp(media_ms: int) -> str:
    """``HH:MM:SS.mmm``, WebVTT's cue time."""
    hours, rest = divmod(max(0, media_ms), 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02}:{minutes:02}:{seconds:02}.{millis:03}"


def time_of_day(at: datetime) -> str:
    """The server's local time of day (the clock on the classroom's wall)."""
    return f"{as_utc(at).astimezone():%H:%M:%S}"


def _name(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("display_name") or "someone")
    return "someone"


def _one_line(text: Any) -> str:
    return " / ".join(line.strip() for line in str(text or "").splitlines() if line.strip())


def _by(data: dict[str, Any]) -> str:
    return f" by {_name(data['by'])}" if isinstance(data.get("by"), dict) else ""


def _bookmark_words(data: dict[str, Any]) -> str:
    """ "Bookmark: Question — remark", or plain "Bookmark" for one with neither code nor remark (as its
    chapter is called)."""
    parts = [x for x in (data.get("label") or data.get("code"), _one_line(data.get("remark"))) if x]
    return "Bookmark: " + " — ".join(parts) if parts else "Bookmark"


_SENTENCES: dict[str, Callable[[dict[str, Any]], str]] = {
    "recording_started": lambda d: (
        f"Recording started{_by(d)}; present: "
        + (", ".join(f"{_name(p)} ({p.get('role', '')})" for p in d.get("participants", [])) or "nobody")
    ),
    "join": lambda d: f"{_name(d)} joined ({d.get('role', '')})",
    "leave": lambda d: f"{_name(d)} left",
    "chat": lambda d: f"{_name(d)}: {_one_line(d.get('text'))}",
    "hand_raised": lambda d: f"{_name(d)} raised a hand",
    "hand_lowered": lambda d: f"{_name(d)}'s hand is down",
    "speaker": lambda d: f"{_name(d)} speaks" if d.get("user_id") is not None else "Nobody speaks",
    "screen_share_started": lambda d: f"{_name(d)} started sharing a screen",
    "screen_share_stopped": lambda d: f"{_name(d)} stopped sharing a screen",
    "muted": lambda d: f"{_name(d)} turned off their {d.get('source', 'media')}",
    "unmuted": lambda d: f"{_name(d)} turned on their {d.get('source', 'media')}",
    "consent": lambda d: f"{_name(d)} {'agreed' if d.get('accepted') else 'declined'} to be recorded",
    "paused": lambda d: f"Recording paused{_by(d)}",
    "resumed": lambda d: f"Recording resumed{_by(d)}",
    "bookmark": lambda d: _bookmark_words(d) + _by(d),
    "replay_started": lambda d: f"Replay of {d.get('name') or 'a recording'!s} started{_by(d)}",
    "replay_paused": lambda d: f"Replay paused{_by(d)}",
    "replay_resumed": lambda d: f"Replay resumed{_by(d)}",
    "replay_stopped": lambda d: f"Replay stopped{_by(d)}",
    "recording_stopped": lambda d: "Recording stopped",
}


def event_sentence(event: TimelineEvent) -> str:
    """What happened, in words."""
    data = event_data(event)
    sentence = _SENTENCES.get(event.type)
    return sentence(data) if sentence is not None else event.type.replace("_", " ")


def timeline_text(events: Sequence[TimelineEvent]) -> str:
    """One line per event: original time of day, media time, what happened."""
    return "".join(f"{time_of_day(e.at)}  {media_stamp(e.media_ms)}  {event_sentence(e)}\n" for e in events)


def _cue_text(text: str) -> str:
    """Cue text as WebVTT wants it: no blank lines, no ``-->``, ``&`` and ``<`` escaped."""
    lines = [line for line in text.replace("&", "&amp;").replace("<", "&lt;").splitlines() if line.strip()]
    return "\n".join(lines).replace("-->", "--&gt;") or " "


def chapters_vtt(chapters: Sequence[Chapter]) -> str:
    cues = [
        f"{i}\n{media_stamp(c.start_ms)} --> {media_stamp(max(c.end_ms, c.start_ms + 1))}\n"
        f"{_cue_text(c.title)}\n"
        for i, c in enumerate(chapters, start=1)
    ]
    return "WEBVTT\n\n" + "\n".join(cues)


def chat_vtt(events: Sequence[TimelineEvent], duration_ms: int) -> str:
    """Each chat message as a cue ``<v Name>text`` from its media time, up to ``CHAT_CUE_MS`` long."""
    chats = [e for e in events if e.type == "chat"]
    cues = []
    for i, event in enumerate(chats):
        data = event_data(event)
        end = event.media_ms + CHAT_CUE_MS
        if i + 1 < len(chats):
            end = min(end, chats[i + 1].media_ms)
        if duration_ms > event.media_ms:
            end = min(end, duration_ms)
        end = max(end, event.media_ms + 1)
        voice = _cue_text(_name(data)).replace(">", "&gt;")
        cues.append(
            f"{i + 1}\n{media_stamp(event.media_ms)} --> {media_stamp(end)}\n"
            f"<v {voice}>{_cue_text(str(data.get('text') or ''))}\n"
        )
    return "WEBVTT\n\n" + "\n".join(cues)
