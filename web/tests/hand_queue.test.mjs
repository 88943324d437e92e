// web/js/hand_queue.js: the raised hands in the order they went up, and when a hand has just gone up.
import assert from "node:assert/strict";
import { test } from "node:test";
import { handJustRaised, handQueue } from "../js/hand_queue.js";

const person = (userId, name, raisedAt = null) => ({
  user_id: userId,
  display_name: name,
  hand_raised: raisedAt !== null,
  hand_raised_at: raisedAt,
});

test("the queue: raised hands only, first raised first, ties by user id", () => {
  const people = [
    person(4, "Dan"),
    person(3, "Cleo", "2026-12-01T10:00:05Z"),
    person(1, "Ada", "2026-12-01T10:00:07.250Z"),
    person(2, "Bo", "2026-12-01T10:00:05Z"),
    person(5, "Eve", "2026-12-01T09:59:59+00:00"),
  ];
  assert.deepEqual(
    handQueue(people).map((p) => p.display_name),
    ["Eve", "Bo", "Cleo", "Ada"],
  );
  assert.equal(people[0].display_name, "Dan", "the input is left alone");
  assert.deepEqual(handQueue([]), []);
  const untimed = { ...person(6, "Fay"), hand_raised: true };
  assert.deepEqual(
    handQueue([untimed, person(7, "Gus", "2026-12-01T10:00:00Z")]).map((p) => p.display_name),
    ["Gus", "Fay"],
    "a hand without a time goes last",
  );
});

test("a hand has just gone up: raised now and not before, or raised again at a new time", () => {
  const down = person(1, "Ada");
  const up = person(1, "Ada", "2026-12-01T10:00:00Z");
  const upAgain = person(1, "Ada", "2026-12-01T10:02:00Z");
  assert.equal(handJustRaised(down, up), true);
  assert.equal(handJustRaised(undefined, up), true);
  assert.equal(handJustRaised(up, up), false, "another change (e.g. the microphone) is not a new hand");
  assert.equal(handJustRaised(up, upAgain), true);
  assert.equal(handJustRaised(up, down), false);
  assert.equal(handJustRaised(down, down), false);
});
