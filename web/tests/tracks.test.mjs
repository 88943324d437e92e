// web/js/tracks.js: a recording's mode badge, the classrooms it covers, and its tracks as Recorded Classes
// lists them, from the Recording and Track objects the server sends.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  classroomsText,
  codecLabel,
  formatOffset,
  hasMixedFile,
  modeBadge,
  offersTracks,
  sessionSiblings,
  sortTracks,
  trackCount,
  trackLabel,
} from "../js/tracks.js";

const recording = (fields = {}) => ({
  id: 1,
  name: "Biology A 1",
  state: "ready",
  mode: "composite",
  session_id: null,
  classroom: { id: 1, name: "Biology A" },
  classrooms: [{ id: 1, name: "Biology A" }],
  ...fields,
});

test("mode: a badge for tracks modes only; a tracks-only recording has no mixed file", () => {
  assert.equal(modeBadge(recording()), null);
  assert.equal(modeBadge(recording({ mode: "tracks" })), "Tracks");
  assert.equal(modeBadge(recording({ mode: "both" })), "Mixed + tracks");
  assert.equal(hasMixedFile(recording()), true);
  assert.equal(hasMixedFile(recording({ mode: "both" })), true);
  assert.equal(hasMixedFile(recording({ mode: "tracks" })), false);
});

test("tracks are offered once a tracks recording is ready, unless it has none", () => {
  assert.equal(offersTracks(recording()), false);
  assert.equal(offersTracks(recording({ mode: "tracks" })), true, "no count: the list is asked for");
  assert.equal(offersTracks(recording({ mode: "tracks", tracks: 3 })), true);
  assert.equal(offersTracks(recording({ mode: "both", tracks: 0 })), false);
  assert.equal(offersTracks(recording({ mode: "both", tracks: 2, state: "recording" })), false);
  assert.equal(offersTracks(recording({ mode: "both", tracks: 2, state: "failed" })), true, "tracks kept");
  assert.equal(offersTracks(recording({ mode: "both", tracks: 0, state: "failed" })), false);
  assert.equal(offersTracks(recording({ mode: "both", state: "failed" })), false);
  assert.equal(trackCount(recording({ tracks: [{}, {}] })), 2);
  assert.equal(trackCount(recording({ tracks: 4 })), 4);
  assert.equal(trackCount(recording()), null);
});

test("classrooms: a session's as 'A + B'; a separate session's other classrooms", () => {
  assert.equal(classroomsText(recording()), "Biology A");
  const both = [
    { id: 1, name: "Biology A" },
    { id: 2, name: "Biology B" },
  ];
  assert.equal(classroomsText(recording({ classrooms: both })), "Biology A + Biology B");
  assert.equal(classroomsText({ classroom: { name: "Old" } }), "Old");
  const a = recording({ id: 5, session_id: 9 });
  const b = recording({ id: 6, session_id: 9, classroom: both[1], classrooms: [both[1]] });
  const c = recording({ id: 7, session_id: 10, classroom: { id: 3, name: "Chemistry" } });
  assert.deepEqual(sessionSiblings(a, [a, b, c]), ["Biology B"]);
  assert.deepEqual(sessionSiblings(b, [a, b, c]), ["Biology A"]);
  assert.deepEqual(sessionSiblings(recording(), [a, b]), []);
  // Two classrooms of one name are two classrooms.
  const twin = recording({ id: 8, session_id: 9, classroom: { id: 4, name: "Biology A" } });
  twin.classrooms = [twin.classroom];
  assert.deepEqual(sessionSiblings(a, [a, b, twin]), ["Biology B", "Biology A"]);
});

test("tracks: offsets as m:ss.mmm, codecs and sources in words, listed by who", () => {
  assert.equal(formatOffset(0), "0:00.000");
  assert.equal(formatOffset(1250), "0:01.250");
  assert.equal(formatOffset(61_005), "1:01.005");
  assert.equal(formatOffset(-3), "0:00.000");
  assert.equal(formatOffset(12 * 60_000 + 7), "12:00.007");
  assert.equal(codecLabel("opus"), "Opus");
  assert.equal(codecLabel("VP8"), "VP8");
  assert.equal(codecLabel("h264"), "H.264");
  const tess = { id: 2, display_name: "Tess Teacher" };
  const sam = { id: 3, display_name: "Sam Student" };
  const tracks = [
    { id: 1, user: tess, source: "camera", offset_ms: 0 },
    { id: 2, user: tess, source: "microphone", offset_ms: 10 },
    { id: 3, user: sam, source: "microphone", offset_ms: 5000 },
  ];
  assert.deepEqual(
    sortTracks(tracks).map(trackLabel),
    ["Sam Student, Microphone", "Tess Teacher, Microphone", "Tess Teacher, Camera"],
  );
  assert.deepEqual(tracks.map((t) => t.id), [1, 2, 3], "the input is left alone");
});
