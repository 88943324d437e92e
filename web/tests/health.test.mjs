// MediaHealth (web/js/health.js) against a fake media session: failed when ICE does not connect within the
// time allowed (automatic retries do not push it back), connected, no_media when nothing arrives from those
// who publish, the server's word that our peer failed, and what is reported to the server.
import assert from "node:assert/strict";
import { test } from "node:test";
import { MediaHealth } from "../js/health.js";

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class FakeSession {
  constructor() {
    this.listeners = new Map();
    this.pc = { connectionState: "new", received: 0, getStats: async () => [{ type: "inbound-rtp", kind: "video", framesDecoded: this.pc.received }] };
  }
  on(event, fn) { this.listeners.set(event, fn); }
  fire(event, payload) { this.listeners.get(event)?.(payload); }
  state(connectionState) { this.pc.connectionState = connectionState; this.fire("connection_state", connectionState); }
}

function setUp({ expecting = true } = {}) {
  const session = new FakeSession();
  const reported = [];
  const shown = [];
  const health = new MediaHealth(session, {
    report: async (state) => reported.push(state),
    onChange: (state) => shown.push(state),
    expectingMedia: () => expecting,
    timeouts: { connectMs: 60, noMediaMs: 1800 },
  });
  return { session, health, reported, shown };
}

test("not connected in time is failed, shown and reported; the first connecting is not reported", async () => {
  const { session, health, reported, shown } = setUp();
  health.start();
  await wait(30);
  session.fire("restarting", { attempt: 1 }); // an automatic retry does not restart the clock
  await wait(50);
  assert.deepEqual(shown, ["connecting", "failed"]);
  assert.deepEqual(reported, ["failed"]);
  session.fire("restarting", { attempt: 2 });
  assert.equal(health.state, "failed", "still failed for the others while retrying");
  session.state("connected");
  assert.deepEqual(reported, ["failed", "connected"]);
  health.stop();
});

test("Reconnect after a failure reports connecting; the server's failed counts at once", async () => {
  const { session, health, reported } = setUp();
  health.start();
  session.state("failed");
  health.start();
  assert.deepEqual(reported, ["failed", "connecting"]);
  health.serverSays("failed");
  assert.equal(health.state, "failed");
  assert.deepEqual(reported, ["failed", "connecting"], "the server already knows");
  session.state("connected");
  health.serverSays("failed"); // a stale word while connected changes nothing
  assert.equal(health.state, "connected");
  health.stop();
});

test("connected but nothing arrives from those who publish: no_media, until media comes", async () => {
  const { session, health, shown } = setUp();
  health.start();
  session.state("connected");
  await wait(2800);
  assert.equal(health.state, "no_media");
  session.pc.received = 50;
  await wait(1100);
  assert.equal(health.state, "connected");
  assert.deepEqual(shown, ["connecting", "connected", "no_media", "connected"]);
  health.stop();
});

test("nobody publishing is not a problem", async () => {
  const { session, health } = setUp({ expecting: false });
  health.start();
  session.state("connected");
  await wait(2800);
  assert.equal(health.state, "connected");
  health.stop();
});
