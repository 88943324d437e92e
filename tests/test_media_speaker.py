"""Active speaker from audio levels: who talks, who takes over, silence."""

from __future__ import annotations

from server.media.speaker import ActiveSpeakerDetector


def speak(detector: ActiveSpeakerDetector, levels: dict[str, int], intervals: int = 4) -> None:
    for _ in range(intervals):
        for _ in range(12):  # 20 ms packets in a 250 ms interval
            for participant_id, level in levels.items():
                detector.add(participant_id, level)
        detector.evaluate()


def test_teacher_talks_then_student_answers_then_silence() -> None:
    changes: list[str | None] = []
    detector = ActiveSpeakerDetector(changes.append)

    speak(detector, {"teacher": 20, "student": 127})
    assert detector.speaker == "teacher"

    # Background noise from the student does not take the floor.
    speak(detector, {"teacher": 25, "student": 70})
    assert detector.speaker == "teacher"

    speak(detector, {"teacher": 127, "student": 15}, intervals=6)
    assert detector.speaker == "student"

    speak(detector, {"teacher": 127, "student": 127}, intervals=10)
    assert changes == ["teacher", "student", None]


def test_speaker_leaving_is_reported() -> None:
    changes: list[str | None] = []
    detector = ActiveSpeakerDetector(changes.append)
    speak(detector, {"teacher": 20})
    detector.remove("teacher")
    assert changes == ["teacher", None]
