// web/js/recording.js: who may press REC and what it says, recording states, and how the Recorded Classes
// page formats recordings (docs/protocol.md, "Recording").
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  canManageRecording,
  elapsedMs,
  formatDuration,
  formatSize,
  isActive,
  newerRecording,
  recControl,
  recordingEndMessage,
  recordingLabels,
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
const viewer = (user_id, role, moderator) => ({ user_id, role, moderator });

test("only moderators start; only the starter or an admin stops, the others see why", () => {
  assert.deepEqual(recControl(null, viewer(1, "teacher", true)), {
    action: "start",
    label: "Start recording",
    reason: null,
  });
  // A finished recording is no longer the classroom's: REC starts a new one.
  assert.equal(recControl(recording({ state: "ready" }), viewer(1, "teacher", true)).action, "start");
  const student = recControl(null, viewer(5, "student", false));
  assert.equal(student.action, null);
  assert.match(student.reason, /moderators/);

  assert.deepEqual(recControl(recording(), viewer(1, "teacher", true)), {
    action: "stop",
    label: "Stop recording",
    reason: null,
  });
  assert.equal(recControl(recording({ state: "starting" }), viewer(1, "teacher", true)).action, "stop");
  assert.equal(recControl(recording(), viewer(9, "admin", true)).action, "stop");
  const coTeacher = recControl(recording(), viewer(2, "teacher", true));
  assert.equal(coTeacher.action, null);
  assert.equal(coTeacher.label, "Stop recording");
  assert.equal(coTeacher.reason, "Recording started by Tess Teacher; only they or an admin can stop it.");
  assert.equal(recControl(recording(), viewer(5, "student", false)).action, null);
  assert.equal(recControl(recording(), null).action, null);

  const finishing = recControl(recording({ state: "finishing" }), viewer(1, "teacher", true));
  assert.equal(finishing.action, null);
  assert.match(finishing.reason, /Finishing/);
  assert.match(recControl(recording({ started_by: null }), viewer(2, "teacher", true)).reason, /someone else/);
});

test("states: active ones, and stale news never wins", () => {
  for (const state of ["starting", "recording", "finishing"]) assert.equal(isActive(recording({ state })), true);
  for (const state of ["ready", "failed"]) assert.equal(isActive(recording({ state })), false);
  assert.equal(isActive(null), false);

  const starting = recording({ state: "starting" });
  const recordingNow = recording({ state: "recording" });
  const ready = recording({ state: "ready" });
  assert.equal(newerRecording(null, starting), starting);
  assert.equal(newerRecording(starting, null), starting);
  assert.equal(newerRecording(starting, recordingNow), recordingNow);
  // The 201 answer to REC ("starting") arriving after the event that says "recording".
  assert.equal(newerRecording(recordingNow, starting), recordingNow);
  assert.equal(newerRecording(ready, recordingNow), ready);
  const next = recording({ id: 4, state: "starting" });
  assert.equal(newerRecording(ready, next), next);
  assert.equal(newerRecording(next, ready), next);
});

test("elapsed time counts from started_at", () => {
  const started = Date.parse("2026-11-23T15:01:31Z");
  assert.equal(elapsedMs(recording(), started + 8500), 8500);
  assert.equal(elapsedMs(recording(), started - 2000), 0); // a client clock behind the server's
  assert.equal(elapsedMs(recording({ started_at: null }), started), 0);
  assert.equal(formatDuration(elapsedMs(recording(), started + 8500)), "0:00:08");
});

test("duration h:mm:ss and size in MB", () => {
  assert.equal(formatDuration(0), "0:00:00");
  assert.equal(formatDuration(8999), "0:00:08");
  assert.equal(formatDuration(61_000), "0:01:01");
  assert.equal(formatDuration(3_723_000), "1:02:03");
  assert.equal(formatDuration(36_000_000), "10:00:00");
  assert.equal(formatDuration(null), "");
  assert.equal(formatDuration(undefined), "");
  assert.equal(formatSize(0), "0.0 MB");
  assert.equal(formatSize(1_234_567), "1.2 MB");
  assert.equal(formatSize(2_500_000_000), "2500.0 MB");
  assert.equal(formatSize(null), "");
});

test("who manages a recording: admins, the starter, the classroom's moderators", () => {
  const r = recording();
  assert.equal(canManageRecording(r, { id: 9, role: "admin" }), true);
  assert.equal(canManageRecording(r, { id: 1, role: "teacher" }), true);
  assert.equal(canManageRecording(r, { id: 2, role: "teacher" }, new Set([7])), true);
  assert.equal(canManageRecording(r, { id: 2, role: "teacher" }, new Set([8])), false);
  assert.equal(canManageRecording(r, { id: 5, role: "student" }), false);
  assert.equal(canManageRecording(recording({ classroom: { id: null, name: "Gone" } }), { id: 2 }, new Set([7])), false);
  assert.equal(canManageRecording(null, { id: 1 }), false);
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
});
