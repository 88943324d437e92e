// web/js/recording.js: what the REC control says from the rights the server sends, recording states, and how
// the Recorded Classes page formats recordings (docs/protocol.md, "Recording").
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  STOP_REASON_LABELS,
  bookmarkText,
  canBookmark,
  codeForKey,
  codesBody,
  elapsedMs,
  fieldPath,
  formatMediaTime,
  formatDuration,
  formatSize,
  isActive,
  isPaused,
  pauseControl,
  recControl,
  recordingEndMessage,
  recordingLabels,
  stopReasonLabel,
} from "../js/recording.js";

const tess = { id: 1, username: "tess", display_name: "Tess Teacher" };
const recording = (fields = {}) => ({
  id: 3,
  name: "Physics 3B 1",
  classroom: { id: 7, name: "Physics 3B" },
  state: "recording",
  started_by: tess,
  started_at: "2026-11-23T15:01:31Z",
  flags: [],
  error: null,
  ...fields,
});
const mayRecord = { can_moderate: true, can_record: true };
const mayNot = { can_moderate: false, can_record: false };

test("REC follows the server's rights: can_record to start, the recording's can_stop to stop", () => {
  assert.deepEqual(recControl(null, mayRecord), { action: "start", label: "Start recording", text: "REC", reason: null });
  // A finished recording is no longer the classroom's: REC starts a new one.
  assert.equal(recControl(recording({ state: "ready", can_stop: false }), mayRecord).action, "start");
  const student = recControl(null, mayNot);
  assert.equal(student.action, null);
  assert.equal(student.reason, "Only the classroom's moderators can record.");
  assert.equal(recControl(null, null).action, null);

  assert.deepEqual(recControl(recording({ can_stop: true }), mayRecord), {
    action: "stop",
    label: "Stop recording",
    text: "Stop REC",
    reason: null,
  });
  assert.equal(recControl(recording({ state: "starting", can_stop: true }), mayRecord).action, "stop");
  // Whoever the viewer is, without can_stop the control only says why.
  const coTeacher = recControl(recording({ can_stop: false }), mayRecord);
  assert.equal(coTeacher.action, null);
  assert.equal(coTeacher.label, "Stop recording");
  assert.equal(coTeacher.reason, "Recording started by Tess Teacher; only they or an admin can stop it.");
  assert.equal(recControl(recording(), mayRecord).action, null, "no can_stop field: nothing to press");

  const finishing = recControl(recording({ state: "finishing", can_stop: true }), mayRecord);
  assert.equal(finishing.action, null);
  assert.match(finishing.reason, /Finishing the recording started by Tess Teacher/);
  assert.match(recControl(recording({ started_by: null }), mayRecord).reason, /someone else/);
});

test("while a start or stop waits for its recording_state the control says so and does nothing", () => {
  assert.deepEqual(recControl(null, mayRecord, "start"), {
    action: null,
    label: "Start recording",
    text: "Starting…",
    reason: null,
  });
  const stopping = recControl(recording({ can_stop: true }), mayRecord, "stop");
  assert.equal(stopping.action, null);
  assert.equal(stopping.text, "Stopping…");
  assert.equal(stopping.label, "Stop recording");
});

test("active states", () => {
  for (const state of ["starting", "recording", "finishing"]) assert.equal(isActive(recording({ state })), true);
  for (const state of ["ready", "failed"]) assert.equal(isActive(recording({ state })), false);
  assert.equal(isActive(null), false);
});

test("stop reasons are named as the library shows them", () => {
  const expected = {
    stopped: "Stopped",
    disk_full: "Disk full",
    too_long: "Reached the length limit",
    server_stopping: "Server restarted",
    classroom_deleted: "Classroom deleted",
    robot_failed: "Recorder failed",
    recovered: "Recovered after a crash",
  };
  assert.deepEqual({ ...STOP_REASON_LABELS }, expected);
  for (const [reason, label] of Object.entries(expected)) {
    assert.equal(stopReasonLabel(recording({ state: "ready", stop_reason: reason })), label);
  }
  assert.equal(stopReasonLabel(recording({ stop_reason: null })), "");
  assert.equal(stopReasonLabel(recording()), "");
  assert.equal(stopReasonLabel(recording({ stop_reason: "something_new" })), "something_new");
});

test("elapsed time counts from started_at", () => {
  const started = Date.parse("2026-11-23T15:01:31Z");
  assert.equal(elapsedMs(recording(), started + 8500), 8500);
  assert.equal(elapsedMs(recording(), started - 2000), 0); // a client clock behind the server's
  assert.equal(elapsedMs(recording({ started_at: null }), started), 0);
  assert.equal(formatDuration(elapsedMs(recording(), started + 8500)), "0:00:08");
});

test("duration h:mm:ss and size in kB, MB or GB", () => {
  assert.equal(formatDuration(0), "0:00:00");
  assert.equal(formatDuration(8999), "0:00:08");
  assert.equal(formatDuration(61_000), "0:01:01");
  assert.equal(formatDuration(3_723_000), "1:02:03");
  assert.equal(formatDuration(36_000_000), "10:00:00");
  assert.equal(formatDuration(null), "");
  assert.equal(formatDuration(undefined), "");
  assert.equal(formatSize(0), "0 kB");
  assert.equal(formatSize(48_200), "48 kB");
  assert.equal(formatSize(999_499), "999 kB");
  assert.equal(formatSize(999_500), "1.0 MB");
  assert.equal(formatSize(1_234_567), "1.2 MB");
  assert.equal(formatSize(999_949_999), "999.9 MB");
  assert.equal(formatSize(999_950_000), "1.00 GB");
  assert.equal(formatSize(2_500_000_000), "2.50 GB");
  assert.equal(formatSize(-5), "0 kB");
  assert.equal(formatSize(null), "");
});

test("recordings with the same name are told apart by their start", () => {
  const list = [
    recording({ id: 1, name: "Physics", started_at: "2026-11-23T15:00:00Z" }),
    recording({ id: 2, name: "Physics", started_at: "2026-11-24T15:00:00Z" }),
    recording({ id: 3, name: "Chemistry" }),
  ];
  const labels = recordingLabels(list, (iso) => iso.slice(0, 10));
  assert.equal(labels.get(1), "Physics (2026-11-23)");
  assert.equal(labels.get(2), "Physics (2026-11-24)");
  assert.equal(labels.get(3), "Chemistry");
});

test("what the classroom is told when its recording ends", () => {
  assert.equal(recordingEndMessage(recording(), "stopped"), null);
  const saved = recordingEndMessage(recording({ state: "ready" }), "stopped");
  assert.equal(saved.alert, false);
  assert.match(saved.text, /Physics 3B 1/);
  assert.equal(recordingEndMessage(recording({ state: "ready" }), "disk_full").alert, true);
  const failed = recordingEndMessage(recording({ state: "failed", error: "no file" }), null);
  assert.deepEqual(failed, { text: "The recording failed: no file", alert: true });
  assert.equal(recordingEndMessage(recording({ state: "ready" }), "too_long").alert, false);
  assert.equal(recordingEndMessage(recording({ state: "ready" }), "server_stopping").alert, true);
  assert.equal(recordingEndMessage(recording({ state: "ready" }), "robot_failed").alert, true);
});

test("the elapsed time leaves out the pauses and stands still while paused", () => {
  const started = Date.parse("2026-11-23T15:01:31Z");
  const base = recording({ paused: false, paused_ms: 5000, paused_at: null });
  assert.equal(elapsedMs(base, started + 65_000), 60_000);
  const paused = recording({ paused: true, paused_ms: 5000, paused_at: "2026-11-23T15:02:36Z" });
  assert.equal(elapsedMs(paused, started + 65_000), 60_000);
  assert.equal(elapsedMs(paused, started + 200_000), 60_000);
  // A recording JSON without the pause fields (an older server) counts from its start.
  assert.equal(elapsedMs(recording(), started + 8000), 8000);
  assert.equal(isPaused(paused), true);
  assert.equal(isPaused(base), false);
  assert.equal(isPaused({ ...paused, state: "ready" }), false);
});

test("Pause and Resume are for who may stop, while the robot writes", () => {
  const mine = recording({ can_stop: true, paused: false });
  assert.deepEqual(pauseControl(mine), { action: "pause", text: "Pause", label: "Pause recording" });
  assert.deepEqual(pauseControl({ ...mine, paused: true }), {
    action: "resume",
    text: "Resume",
    label: "Resume recording",
  });
  assert.equal(pauseControl({ ...mine, can_stop: false }), null);
  assert.equal(pauseControl(null), null);
  assert.equal(pauseControl({ ...mine, state: "starting" }).action, null);
  assert.equal(pauseControl(mine, "pause").text, "Pausing…");
  assert.equal(pauseControl(mine, "resume").action, null);
  assert.equal(canBookmark(mine), true);
  assert.equal(canBookmark({ ...mine, paused: true }), false);
  assert.equal(canBookmark({ ...mine, state: "finishing" }), false);
});

test("a bookmark is confirmed with its code's label and media time", () => {
  assert.equal(formatMediaTime(83_400), "01:23");
  assert.equal(formatMediaTime(3_723_000), "1:02:03");
  assert.equal(bookmarkText({ code: "q", label: "Question", media_ms: 83_000 }), "Bookmark “Question” at 01:23");
  assert.equal(bookmarkText({ code: "q", label: "", media_ms: 1000 }), "Bookmark “q” at 00:01");
  assert.equal(bookmarkText({ code: null, label: null, media_ms: 0 }), "Bookmark at 00:00");
  assert.equal(bookmarkText({ code: null, remark: " Ohm's law ", media_ms: 0 }), "Bookmark at 00:00: Ohm's law");
  const long = bookmarkText({ code: null, remark: "x".repeat(200), media_ms: 0 });
  assert.equal(long, `Bookmark at 00:00: ${"x".repeat(59)}…`);
});

test("a key press finds its code, exactly or ignoring case when only one fits", () => {
  const codes = [
    { code: "q", label: "Question", key: "q" },
    { code: "a", label: "Answer", key: "A" },
    { code: "x", label: "Upper X", key: "X" },
    { code: "y", label: "Lower x", key: "x" },
    { code: "n", label: "No key", key: null },
  ];
  assert.equal(codeForKey(codes, "q").code, "q");
  assert.equal(codeForKey(codes, "Q").code, "q");
  assert.equal(codeForKey(codes, "a").code, "a");
  assert.equal(codeForKey(codes, "X").code, "x");
  assert.equal(codeForKey(codes, "x").code, "y");
  assert.equal(codeForKey(codes, "Enter"), null);
  assert.equal(codeForKey(codes, "z"), null);
  assert.equal(codeForKey(null, "q"), null);
});

test("the codes editor sends lists as typed, an empty key as none, and reads the server's field paths", () => {
  const question = { code: "q", label: "Question", key: "" };
  const answer = { code: "a", label: "", key: "a" };
  assert.deepEqual(codesBody([{ name: "Lesson", codes: [question, answer] }]), {
    lists: [{ name: "Lesson", codes: [{ ...question, key: null }, answer] }],
  });
  assert.equal(fieldPath("lists[0].codes[1].code"), "lists.0.codes.1.code");
  assert.equal(fieldPath("lists.0.name"), "lists.0.name");
});
