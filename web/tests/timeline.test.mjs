// web/js/timeline.js: the player's original clock across pauses, chat lines played, chapters, loops and
// the recordings of the same classroom.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  SPEAKER_MIN_MS,
  chapterAt,
  chatLines,
  currentEntry,
  eventSentence,
  filterKinds,
  formatMediaTime,
  loopJump,
  markPercent,
  originalTime,
  playedCount,
  sameClassroom,
  spokenMediaTime,
  timelineEntries,
  withCurrentBookmarks,
} from "../js/timeline.js";

// Started at 10:00:00; paused at media 60 s for 5 minutes: media 60 s is 10:06:00.
const clock = [
  { media_ms: 0, at: "2026-12-02T10:00:00.000Z" },
  { media_ms: 60_000, at: "2026-12-02T10:06:00.000Z" },
];

test("the original time follows the anchor of each stretch, not started_at + t", () => {
  assert.equal(new Date(originalTime(clock, 0)).toISOString(), "2026-12-02T10:00:00.000Z");
  assert.equal(new Date(originalTime(clock, 59_500)).toISOString(), "2026-12-02T10:00:59.500Z");
  assert.equal(new Date(originalTime(clock, 60_000)).toISOString(), "2026-12-02T10:06:00.000Z");
  assert.equal(new Date(originalTime(clock, 61_250)).toISOString(), "2026-12-02T10:06:01.250Z");
  // Anchors in any order.
  assert.equal(originalTime([...clock].reverse(), 61_250), originalTime(clock, 61_250));
});

test("without anchors the clock counts from started_at; with nothing it is unknown", () => {
  assert.equal(new Date(originalTime([], 1500, "2026-12-02T10:00:00Z")).toISOString(), "2026-12-02T10:00:01.500Z");
  assert.ok(Number.isNaN(originalTime([], 1500)));
  assert.ok(Number.isNaN(originalTime(undefined, 1500, null)));
});

test("chat lines are the chat events in media order, and those at or before a moment have played", () => {
  const events = [
    { type: "recording_started", media_ms: 0 },
    { type: "chat", media_ms: 5000, text: "second" },
    { type: "join", media_ms: 1000 },
    { type: "chat", media_ms: 2000, text: "first" },
    { type: "chat", media_ms: 5000, text: "third" },
  ];
  const lines = chatLines(events);
  assert.deepEqual(
    lines.map((line) => line.text),
    ["first", "second", "third"],
  );
  assert.equal(playedCount(lines, 0), 0);
  assert.equal(playedCount(lines, 1999), 0);
  assert.equal(playedCount(lines, 2000), 1);
  assert.equal(playedCount(lines, 4999), 1);
  assert.equal(playedCount(lines, 5000), 3);
  assert.equal(playedCount([], 5000), 0);
});

test("the chapter playing is the last one started", () => {
  const chapters = [
    { start_ms: 0, end_ms: 3000 },
    { start_ms: 3000, end_ms: 7000 },
    { start_ms: 7000, end_ms: 9000 },
  ];
  assert.equal(chapterAt(chapters, 0), 0);
  assert.equal(chapterAt(chapters, 2999), 0);
  assert.equal(chapterAt(chapters, 3000), 1);
  assert.equal(chapterAt(chapters, 8999), 2);
  assert.equal(chapterAt([], 10), -1);
});

test("a looped chapter jumps back when playing crosses its end, not when one seeks past it", () => {
  const range = { start_ms: 3000, end_ms: 7000 };
  assert.equal(loopJump(range, 6900, 7010), 3000);
  assert.equal(loopJump(range, 6000, 6500), null);
  assert.equal(loopJump(range, 1000, 8000), null); // a seek from before
  assert.equal(loopJump(range, 7500, 7600), null); // already past it (seeked there)
  assert.equal(loopJump(range, 6500, 6980), 3000); // within a frame of the end counts
  assert.equal(loopJump(range, 3100, 6990), null); // a seek from inside to the end
  assert.equal(loopJump(null, 6900, 7010), null);
  assert.equal(loopJump(range, null, 7010), null);
});

test("media times read as h:mm:ss and in words", () => {
  assert.equal(formatMediaTime(0), "0:00:00");
  assert.equal(formatMediaTime(83_999), "0:01:23");
  assert.equal(formatMediaTime(3_723_000), "1:02:03");
  assert.equal(spokenMediaTime(0), "0 seconds");
  assert.equal(spokenMediaTime(61_000), "1 minute 1 second");
  assert.equal(spokenMediaTime(3_600_000), "1 hour");
});

test("the recordings to switch to are the playable ones of the same classroom, newest first", () => {
  const of = (id, classroomId, startedAt, state = "ready") => ({
    id,
    name: "Physics 3B",
    classroom: { id: classroomId, name: "Physics 3B" },
    started_at: startedAt,
    state,
  });
  const current = of(2, 7, "2026-12-02T10:00:00Z");
  const listed = [
    of(1, 7, "2026-12-01T10:00:00Z"),
    current,
    of(3, 8, "2026-12-03T10:00:00Z"),
    of(4, 7, "2026-12-04T10:00:00Z", "recording"),
    of(5, 7, "2026-12-05T10:00:00Z"),
  ];
  assert.deepEqual(
    sameClassroom(listed, current).map((r) => r.id),
    [5, 2, 1],
  );
  assert.deepEqual(sameClassroom(listed, { ...current, classroom: { id: null, name: "Gone" } }), []);
});

const sam = { user_id: 2, display_name: "Sam Student" };
const tess = { id: 1, display_name: "Tess Teacher" };

test("every event reads as a sentence, who did what", () => {
  const said = (event) => eventSentence(event);
  assert.equal(said({ type: "hand_raised", ...sam }), "Sam Student raised a hand");
  assert.equal(said({ type: "join", ...sam, role: "student" }), "Sam Student joined");
  assert.equal(said({ type: "leave", ...sam }), "Sam Student left");
  assert.equal(said({ type: "chat", ...sam, text: "Hello\n\n  there " }), "Sam Student wrote: Hello / there");
  assert.equal(said({ type: "muted", ...sam, source: "microphone" }), "Sam Student turned off their microphone");
  assert.equal(said({ type: "unmuted", ...sam, source: "camera" }), "Sam Student turned on their camera");
  assert.equal(said({ type: "consent", ...sam, accepted: false }), "Sam Student declined to be recorded");
  assert.equal(said({ type: "paused", by: tess }), "Tess Teacher paused the recording");
  assert.equal(said({ type: "resumed", by: null }), "The recording resumed");
  assert.equal(
    said({ type: "bookmark", code: "q", label: "Question", remark: "Ohm", by: tess }),
    "Bookmark: Question — Ohm (by Tess Teacher)",
  );
  assert.equal(said({ type: "bookmark", code: null, label: null, remark: "Ohm's law", by: null }), "Bookmark: Ohm's law");
  assert.equal(
    said({ type: "recording_started", by: tess, participants: [{ ...sam, role: "student" }] }),
    "Tess Teacher started the recording; present: Sam Student",
  );
  assert.equal(said({ type: "replay_started", name: "Week 1", by: tess }), "Tess Teacher started a replay of “Week 1”");
  assert.equal(said({ type: "replay_started", name: null, by: null }), "A replay started");
  assert.equal(said({ type: "speaker", user_id: null, display_name: null }), "Nobody spoke");
  assert.equal(said({ type: "something_new" }), "Something new");
  // A name left empty is still someone.
  assert.equal(said({ type: "join", user_id: 3, display_name: " " }), "Someone joined");
});

test("the timeline's entries are in media order, by kind, with speaker changes condensed", () => {
  const speaker = (ms, who) => ({ type: "speaker", media_ms: ms, ...(who ?? { user_id: null, display_name: null }) });
  const bob = { user_id: 3, display_name: "Bob" };
  const events = [
    { type: "recording_started", media_ms: 0, by: tess, participants: [] },
    { type: "join", media_ms: 1000, ...sam },
    speaker(2000, sam), // 10 s: listed
    speaker(12_000, bob), // 1 s: a cough, left out
    speaker(13_000, null), // nobody: never listed
    speaker(14_000, sam), // Sam again, after the gaps: not listed twice
    speaker(30_000, bob), // to the end, 10 s: listed
    { type: "chat", media_ms: 5000, ...sam, text: "hi" },
    { type: "bookmark", media_ms: 5000, label: "Ohm", by: tess },
  ];
  const entries = timelineEntries(events, 40_000);
  assert.deepEqual(
    entries.map((entry) => [entry.event.media_ms, entry.kind, entry.text]),
    [
      [0, "class", "Tess Teacher started the recording"],
      [1000, "people", "Sam Student joined"],
      [2000, "people", "Sam Student spoke"],
      [5000, "chat", "Sam Student wrote: hi"],
      [5000, "bookmarks", "Bookmark: Ohm (by Tess Teacher)"],
      [30_000, "people", "Bob spoke"],
    ],
  );
  // A last turn shorter than the minimum, to the recording's end, is left out too.
  assert.equal(timelineEntries([speaker(0, sam)], SPEAKER_MIN_MS - 1).length, 0);
  assert.equal(timelineEntries([speaker(0, sam)], SPEAKER_MIN_MS).length, 1);
  assert.deepEqual(timelineEntries(undefined), []);
});

test("the entry playing is the last shown one started, the clicked one among those at its moment", () => {
  const entries = timelineEntries([
    { type: "join", media_ms: 1000, ...sam },
    { type: "chat", media_ms: 5000, ...sam, text: "hi" },
    { type: "bookmark", media_ms: 5000, label: "Ohm" },
    { type: "leave", media_ms: 9000, ...sam },
  ]);
  assert.equal(currentEntry(entries, 500), -1);
  assert.equal(currentEntry(entries, 1000), 0);
  assert.equal(currentEntry(entries, 5000), 2);
  assert.equal(currentEntry(entries, 5000, () => true, 1), 1);
  assert.equal(currentEntry(entries, 8000, () => true, 0), 2); // a click long ago does not stick
  const people = filterKinds("people");
  const shown = (entry) => people.includes(entry.kind);
  assert.equal(currentEntry(entries, 8000, shown), 0);
  assert.equal(currentEntry(entries, 9000, shown), 3);
  assert.deepEqual(filterKinds("bookmarks"), ["bookmarks"]);
  assert.deepEqual(filterKinds("nonsense"), filterKinds("all"));
});

test("a mark sits where its moment is on the seek bar", () => {
  assert.equal(markPercent(2500, 10_000), 25);
  assert.equal(markPercent(20_000, 10_000), 100);
  assert.equal(markPercent(-5, 10_000), 0);
  assert.equal(markPercent(5, 0), 0);
});

test("bookmark events follow their bookmarks as edited since, and go with a deleted one", () => {
  const by = { id: 1, display_name: "Tess Teacher" };
  const events = [
    { type: "join", media_ms: 0, at: "2026-11-23T15:00:00.000Z", user_id: 5, display_name: "Sam" },
    { type: "bookmark", media_ms: 1000, at: "2026-11-23T15:00:01.000Z", bookmark_id: 7, code: "Q", label: "Question", remark: "Warm-up", by },
    { type: "bookmark", media_ms: 2000, at: "2026-11-23T15:00:02.000Z", bookmark_id: 8, code: null, label: null, remark: "Homework", by },
  ];
  const bookmarks = [
    { id: 7, code: "EX", label: "Example", remark: "Warm-up questions", media_ms: 2500, at: "2026-11-23T15:00:02.500Z" },
  ];
  const merged = withCurrentBookmarks(events, bookmarks);
  assert.equal(merged.length, 2);
  assert.deepEqual(merged[0], events[0]);
  assert.deepEqual(merged[1], {
    ...events[1],
    code: "EX",
    label: "Example",
    remark: "Warm-up questions",
    media_ms: 2500,
    at: "2026-11-23T15:00:02.500Z",
  });
  assert.equal(eventSentence(merged[1]), "Bookmark: Example — Warm-up questions (by Tess Teacher)");
  assert.equal(events[1].remark, "Warm-up", "the input is left alone");
  // Bookmarks not loaded: the events as written.
  assert.deepEqual(withCurrentBookmarks(events, null), events);
});
