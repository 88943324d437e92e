// web/js/classroom_status.js: the dashboard's status column (Recording, paused or not, In session, Idle) and its sorting,
// from the Classroom objects the server sends.
import assert from "node:assert/strict";
import { test } from "node:test";
import { classroomStatus, nextSort, sortClassrooms } from "../js/classroom_status.js";

const tess = { id: 1, username: "tess", display_name: "Tess Teacher" };
const classroom = (id, name, seatsUsed, recording = null) => ({
  id,
  name,
  seat_limit: 30,
  present: seatsUsed,
  recording,
});
const recordingStatus = (fields = {}) => ({
  id: 3,
  name: "Physics 3B 1",
  state: "recording",
  started_by: tess,
  started_at: "2026-11-23T15:01:31Z",
  ...fields,
});

test("status: who records since when, how many are in session, or idle", () => {
  assert.deepEqual(classroomStatus(classroom(1, "A", 0)), { key: "idle", text: "Idle", seats: null, recording: null });
  assert.deepEqual(classroomStatus(classroom(1, "A", 4)), {
    key: "live",
    text: "In session (4)",
    seats: "In session (4)",
    recording: null,
  });
  assert.deepEqual(classroomStatus(classroom(1, "A", 2, recordingStatus())), {
    key: "recording",
    text: "Recording",
    seats: "In session (2)",
    recording: { by: "Tess Teacher", since: "2026-11-23T15:01:31Z", paused: false, session: null },
  });
  // Paused: still a recording (it sorts with them), said in words.
  const paused = classroomStatus(classroom(1, "A", 2, recordingStatus({ paused: true })));
  assert.equal(paused.key, "recording");
  assert.equal(paused.text, "Recording paused");
  assert.equal(paused.recording.paused, true);
  const starting = classroomStatus(classroom(1, "A", 0, recordingStatus({ state: "starting", started_by: null })));
  assert.equal(starting.key, "recording");
  assert.equal(starting.seats, null);
  assert.equal(starting.recording.by, "someone else");
});

test("status: each classroom of a session says the session's name, and who started it", () => {
  const session = { id: 2, name: "Biology 1", mode: "separate" };
  const status = classroomStatus(classroom(1, "Biology A", 0, recordingStatus({ session })));
  assert.equal(status.key, "recording");
  assert.equal(status.text, "Recording · Biology 1");
  assert.deepEqual(status.recording, {
    by: "Tess Teacher",
    since: "2026-11-23T15:01:31Z",
    paused: false,
    session: "Biology 1",
  });
  const paused = classroomStatus(classroom(1, "Biology A", 0, recordingStatus({ session, paused: true })));
  assert.equal(paused.text, "Recording paused · Biology 1");
});

test("sorting: by name by default, by status either way, fuller first within a status", () => {
  const list = [
    classroom(1, "Physics", 0),
    classroom(2, "Art", 3),
    classroom(3, "Chemistry", 1, recordingStatus()),
    classroom(4, "Biology", 5),
    classroom(5, "Drama", 0),
  ];
  const names = (classrooms) => classrooms.map((c) => c.name);
  assert.deepEqual(names(sortClassrooms(list)), ["Art", "Biology", "Chemistry", "Drama", "Physics"]);
  assert.deepEqual(names(sortClassrooms(list, "ascending")), ["Chemistry", "Biology", "Art", "Drama", "Physics"]);
  assert.deepEqual(names(sortClassrooms(list, "descending")), ["Drama", "Physics", "Art", "Biology", "Chemistry"]);
  assert.deepEqual(names(list), ["Physics", "Art", "Chemistry", "Biology", "Drama"], "the input is left alone");
  assert.equal(nextSort(null), "ascending");
  assert.equal(nextSort("ascending"), "descending");
  assert.equal(nextSort("descending"), "ascending");
});
