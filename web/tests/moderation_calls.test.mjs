// ClassroomConnection (web/js/protocol.js): the moderator's lower_hand and media_permission and the page's
// media_health, against a fake socket: their payloads, and bad arguments refused before anything is sent.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ClassroomConnection, MEDIA_HEALTH_STATES } from "../js/protocol.js";

class FakeSocket {
  constructor() {
    this.connected = true;
    this.active = true;
    this.sent = [];
  }
  on() {
    return this;
  }
  off() {
    return this;
  }
  timeout() {
    return {
      emitWithAck: (event, payload) => {
        this.sent.push([event, payload]);
        return Promise.resolve({ ok: true });
      },
    };
  }
}

test("lower_hand, media_permission and media_health carry the protocol's payloads", async () => {
  const socket = new FakeSocket();
  const connection = new ClassroomConnection(socket);
  await connection.lowerHand(5);
  await connection.lowerHand(null);
  await connection.lowerHand();
  await connection.mediaPermission(5, "camera", false);
  await connection.mediaPermission(5, "screen", true);
  await connection.mediaHealth("no_media");
  assert.deepEqual(socket.sent, [
    ["lower_hand", { user_id: 5 }],
    ["lower_hand", { user_id: null }],
    ["lower_hand", { user_id: null }],
    ["media_permission", { user_id: 5, source: "camera", allowed: false }],
    ["media_permission", { user_id: 5, source: "screen", allowed: true }],
    ["media_health", { state: "no_media" }],
  ]);
  assert.deepEqual([...MEDIA_HEALTH_STATES], ["connecting", "connected", "failed", "no_media"]);
  assert.throws(() => connection.mediaPermission(5, "speaker", true), TypeError);
  assert.throws(() => connection.mediaPermission(5, "camera", "yes"), TypeError);
  assert.throws(() => connection.mediaHealth("unknown"), TypeError, "only the server says unknown");
  assert.equal(socket.sent.length, 6);
});
