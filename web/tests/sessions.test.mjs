// web/js/sessions.js: what the dashboard's "Record several classrooms" dialog offers, from the Classrooms
// and the allowed recording modes the server sends.
import assert from "node:assert/strict";
import { test } from "node:test";
import { busyReason, namesText, offeredSessionModes, offersSessions, recordableClassrooms, startedText } from "../js/sessions.js";

const tess = { id: 1, username: "tess", display_name: "Tess Teacher" };
const room = (id, name, can_record, recording = null) => ({ id, name, can_record, recording });

test("offered: two classrooms to record and a session mode the admin allows", () => {
  const rooms = [room(1, "Biology B", true), room(2, "Art", false), room(3, "Biology A", true)];
  assert.deepEqual(recordableClassrooms(rooms).map((c) => c.name), ["Biology A", "Biology B"]);
  const all = ["composite", "tracks", "both", "multi_composite", "multi_separate"];
  assert.equal(offersSessions(rooms, all), true);
  assert.equal(offersSessions(rooms, ["composite", "tracks"]), false);
  assert.equal(offersSessions(rooms.slice(0, 2), all), false, "only one classroom to record");
  assert.deepEqual(offeredSessionModes(all).map((m) => m.mode), ["composite", "separate"]);
  assert.deepEqual(offeredSessionModes(["multi_separate"]).map((m) => m.label), ["One recording per classroom"]);
  assert.deepEqual(offeredSessionModes(undefined), []);
});

test("busy: who records the classroom (and in which session)", () => {
  assert.equal(busyReason(room(1, "A", true)), null);
  const status = { id: 4, state: "recording", started_by: tess, session: null };
  assert.equal(busyReason(room(1, "A", true, status)), "Recording by Tess Teacher");
  const session = { ...status, session: { id: 2, name: "Biology 1", mode: "separate" } };
  assert.equal(busyReason(room(1, "A", true, session)), "Recording by Tess Teacher (Biology 1)");
});

test("words", () => {
  assert.equal(namesText(["A"]), "A");
  assert.equal(namesText(["A", "B"]), "A and B");
  assert.equal(namesText(["A", "B", "C"]), "A, B and C");
  const session = { mode: "separate", name: "Biology A 1", classrooms: [{ name: "Biology A" }, { name: "Biology B" }] };
  assert.equal(startedText(session), "Recording Biology A and Biology B, one recording per classroom, as “Biology A 1”.");
});
