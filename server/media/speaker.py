"""Active-speaker detection from the RTP audio-level header extension (RFC 6464).

Publishers (browsers and aiortc alike) put the level of each audio packet in
``urn:ietf:params:rtp-hdrext:ssrc-audio-level``: 0..127 meaning 0 to -127 dBov, so no audio is
decoded to know who speaks. aiortc parses the extension into ``packet.extensions.audio_level``
as ``(voice_activity, level)``.

Per participant, the loudest packet of each evaluation interval is smoothed over intervals
(speech is bursty: averaging every packet lets pauses between syllables drown it), and the
loudest participant above a threshold becomes the speaker; a change needs the challenger to beat the
current speaker by a margin, so two people talking over each other do not make the layout
flicker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

SILENCE_DBOV = 127


@dataclass(frozen=True)
class SpeakerConfig:
    """Tuning of :class:`ActiveSpeakerDetector`; defaults suit speech at 20 ms packets."""

    threshold_dbov: int = 60
    "A participant whose smoothed level is quieter than -threshold dBov is not speaking."
    smoothing: float = 0.5
    "Weight of the newest interval in the exponential average (0..1]."
    switch_margin_db: float = 6.0
    "How much louder (dB) a challenger must be than the current speaker to take over."


class ActiveSpeakerDetector:
    """Feed it levels with :meth:`add` and call :meth:`evaluate` a few times a second."""

    def __init__(self, on_change: Callable[[str | None], None], config: SpeakerConfig | None = None) -> None:
        self._on_change = on_change
        self._config = config or SpeakerConfig()
        self._peaks: dict[str, int] = {}
        self._loudness: dict[str, float] = {}
        self.speaker: str | None = None

    def add(self, participant_id: str, level_dbov: int) -> None:
        """Record one packet's level (0 loudest .. 127 silence)."""
        loudness = SILENCE_DBOV - min(level_dbov, SILENCE_DBOV)
        if loudness > self._peaks.get(participant_id, -1):
            self._peaks[participant_id] = loudness

    def remove(self, participant_id: str) -> None:
        """Forget a participant; if they were the speaker the change is reported."""
        self._peaks.pop(participant_id, None)
        self._loudness.pop(participant_id, None)
        if self.speaker == participant_id:
            self._set_speaker(None)

    def evaluate(self) -> str | None:
        """Close the current interval, update the speaker and return it."""
        alpha = self._config.smoothing
        for participant_id in list(self._loudness.keys() | self._peaks.keys()):
            peak = float(self._peaks.get(participant_id, 0))
            previous = self._loudness.get(participant_id, peak)
            self._loudness[participant_id] = alpha * peak + (1 - alpha) * previous
        self._peaks.clear()

        floor = SILENCE_DBOV - self._config.threshold_dbov
        audible = {pid: value for pid, value in self._loudness.items() if value >= floor}
        if not audible:
            self._set_speaker(None)
            return None
        loudest = max(audible, key=audible.__getitem__)
        current = self.speaker
        if (
            current is None
            or current not in audible
            or audible[loudest] >= audible[current] + self._config.switch_margin_db
        ):
            self._set_speaker(loudest)
        return self.speaker

    def _set_speaker(self, participant_id: str | None) -> None:
        if participant_id != self.speaker:
            self.speaker = participant_id
            self._on_change(participant_id)
