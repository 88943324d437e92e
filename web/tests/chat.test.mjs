// web/js/chat.js: message times, earlier sessions against this one, and the length rule the server applies.
import assert from "node:assert/strict";
import { test } from "node:test";
import { chatSessions, formatTime, fromEarlierSession, lengthText, messageLength, messageProblem } from "../js/chat.js";

test("times are HH:MM in the browser's time zone", () => {
  const local = new Date(2026, 11, 1, 9, 5, 59);
  assert.equal(formatTime(local.toISOString()), "09:05");
  assert.equal(formatTime(new Date(2026, 11, 1, 23, 40).toISOString()), "23:40");
  assert.equal(formatTime("not a time"), "");
});

test("messages sent before the live classroom opened belong to earlier sessions", () => {
  const started = "2026-12-01T10:00:00Z";
  const messages = [
    { id: 1, sent_at: "2026-11-30T15:00:00Z" },
    { id: 2, sent_at: "2026-12-01T09:59:59.900Z" },
    { id: 3, sent_at: "2026-12-01T10:00:00Z" },
    { id: 4, sent_at: "2026-12-01T10:05:00+00:00" },
  ];
  const { earlier, current } = chatSessions(messages, started);
  assert.deepEqual(earlier.map((m) => m.id), [1, 2]);
  assert.deepEqual(current.map((m) => m.id), [3, 4]);
  assert.equal(fromEarlierSession({ sent_at: "2026-11-30T15:00:00Z" }, null), false, "no session time: all current");
  assert.deepEqual(chatSessions([], started), { earlier: [], current: [] });
});

test("a message is refused when empty after trimming or longer than the limit, counted in characters", () => {
  assert.equal(messageProblem("   \n\t ", 2000), "A message cannot be empty.");
  assert.equal(messageProblem("", 2000), "A message cannot be empty.");
  assert.equal(messageProblem("a".repeat(2001), 2000), "A message can be at most 2000 characters.");
  assert.equal(messageProblem(`  ${"a".repeat(2000)}  `, 2000), null, "the ends do not count");
  assert.equal(messageProblem("Good morning", 2000), null);
  assert.equal(messageLength("Léa 🎉"), 5, "an emoji is one character, as the server counts");
  assert.equal(lengthText("Good morning", 2000), "12 / 2000");
  assert.equal(lengthText("", 500), "0 / 500");
});
