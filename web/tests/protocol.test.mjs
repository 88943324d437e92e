// ClassroomConnection (web/js/protocol.js) against a fake socket: acks, errors, timeouts, rejoin rules.
import assert from "node:assert/strict";
import { ClassroomConnection, ProtocolError } from "../js/protocol.js";
import { test } from "node:test";


class FakeSocket {
  constructor() { this.handlers = new Map(); this.connected = false; this.active = true; this.sent = []; this.reply = () => ({ ok: true }); }
  on(ev, fn) { (this.handlers.get(ev) ?? this.handlers.set(ev, new Set()).get(ev)).add(fn); return this; }
  off(ev, fn) { this.handlers.get(ev)?.delete(fn); return this; }
  fire(ev, ...args) { for (const fn of [...(this.handlers.get(ev) ?? [])]) fn(...args); }
  timeout(ms) { return { emitWithAck: (ev, payload) => { this.sent.push([ev, payload]); const r = this.reply(ev, payload); return r === "timeout" ? Promise.reject(new Error("operation has timed out")) : Promise.resolve(r); } }; }
  disconnect() { this.connected = false; this.active = false; this.fire("disconnect", "io client disconnect"); }
}

test("ClassroomConnection follows docs/protocol.md", async () => {
  const s = new FakeSocket();
  const c = new ClassroomConnection(s, { ackTimeoutMs: 200 });
  const seen = [];
  for (const ev of ["participant_joined", "removed", "rejoined", "rejoin_failed", "connection_lost", "connect_failed", "error"]) c.on(ev, (p) => seen.push([ev, p]));

  // join waits for connect
  s.reply = (ev) => (ev === "join" ? { ok: true, self: { user_id: 1 }, classroom: { id: 7 }, participants: [], chat: [] } : { ok: true });
  const joining = c.join(7);
  s.connected = true; s.fire("connect");
  const ack = await joining;
  assert.equal(ack.classroom.id, 7);
  assert.deepEqual(s.sent.at(-1), ["join", { classroom_id: 7 }]);
  assert.equal(c.classroomId, 7);

  // error ack
  s.reply = () => ({ error: { code: "rate_limited", message: "slow down" } });
  await assert.rejects(c.chat("hi"), (e) => e instanceof ProtocolError && e.code === "rate_limited" && e.message === "slow down" && e.event === "chat");
  // timeout
  s.reply = () => "timeout";
  await assert.rejects(c.hand(true), (e) => e.code === "timeout");
  // payloads
  s.reply = () => ({ ok: true });
  await c.muteRequest(5); await c.remove(5); await c.hand(1);
  assert.deepEqual(s.sent.slice(-3), [["mute_request", { user_id: 5, kind: "audio" }], ["remove", { user_id: 5 }], ["hand", { raised: true }]]);
  assert.throws(() => c.muteRequest(5, "screen"), TypeError);
  assert.throws(() => c.on("bogus", () => {}), TypeError);

  // server events pass through
  s.fire("participant_joined", { participant: { user_id: 2 }, seats_used: 2 });
  assert.deepEqual(seen.at(-1), ["participant_joined", { participant: { user_id: 2 }, seats_used: 2 }]);

  // reconnect re-joins
  s.reply = (ev) => (ev === "join" ? { ok: true, self: {}, classroom: { id: 7 }, participants: [], chat: [] } : { ok: true });
  s.connected = false; s.fire("disconnect", "transport close");
  assert.equal(seen.at(-1)[0], "connection_lost");
  await assert.rejects(c.chat("x"), (e) => e.code === "disconnected");
  const before = s.sent.length;
  s.connected = true; s.fire("connect");
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(s.sent.at(-1), ["join", { classroom_id: 7 }]);
  assert.equal(s.sent.length, before + 1);
  assert.equal(seen.at(-1)[0], "rejoined");

  // failed rejoin
  s.reply = () => ({ error: { code: "classroom_full", message: "full" } });
  s.connected = false; s.fire("disconnect", "transport close"); s.connected = true; s.fire("connect");
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(seen.at(-1)[0], "rejoin_failed"); assert.equal(seen.at(-1)[1].code, "classroom_full");
  assert.equal(c.classroomId, null);

  // removed stops re-join
  s.reply = (ev) => (ev === "join" ? { ok: true, self: {}, classroom: { id: 7 }, participants: [], chat: [] } : { ok: true });
  await c.join(7);
  s.fire("removed", { reason: "joined_elsewhere", by: null });
  assert.equal(c.classroomId, null);
  const n = s.sent.length;
  s.connected = false; s.fire("disconnect", "transport close"); s.connected = true; s.fire("connect");
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(s.sent.length, n);

  // refused connection
  const s2 = new FakeSocket();
  const c2 = new ClassroomConnection(s2, { ackTimeoutMs: 200 });
  const p2 = c2.join(1);
  s2.active = false; s2.fire("connect_error", new Error("unauthorized"));
  await assert.rejects(p2, (e) => e.code === "unauthorized");
  // connect timeout
  const s3 = new FakeSocket();
  await assert.rejects(new ClassroomConnection(s3, { ackTimeoutMs: 50 }).join(1), (e) => e.code === "timeout");
  console.log("protocol tests passed");
  {
    const s = new FakeSocket(); let connects = 0; s.connect = () => { connects++; };
    const c = new ClassroomConnection(s, { ackTimeoutMs: 200 });
    s.connected = true; s.reply = () => ({ ok: true, self: {}, classroom: {}, participants: [], chat: [] });
    await c.join(3);
    s.connected = false; s.fire("disconnect", "io server disconnect");
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(connects, 1);
    c.close();
    s.fire("disconnect", "io server disconnect");
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(connects, 1);

  }
});

test("media requests carry the payloads of docs/protocol.md", async () => {
  const s = new FakeSocket();
  s.connected = true;
  const c = new ClassroomConnection(s, { ackTimeoutMs: 200 });
  const offers = [];
  c.on("media_offer", (offer) => offers.push(offer));
  c.on("active_speaker", (speaker) => offers.push(speaker));
  s.fire("media_offer", { revision: 2 });
  s.fire("active_speaker", { user_id: null });
  assert.deepEqual(offers, [{ revision: 2 }, { user_id: null }]);

  await c.mediaJoin(["microphone", "camera"]);
  await c.mediaAnswer(3, "v=0");
  await c.mediaCandidate({ candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host", sdpMid: "0", sdpMLineIndex: 0 });
  await c.mediaCandidate(null);
  await c.mediaCandidate({ candidate: "", sdpMid: "0", sdpMLineIndex: 0 });
  await c.mediaScreen();
  await c.mediaState({ audio_muted: 1, screen_sharing: false });
  await c.mediaLeave();
  assert.deepEqual(s.sent, [
    ["media_join", { publish: ["microphone", "camera"] }],
    ["media_answer", { revision: 3, sdp: "v=0" }],
    ["media_candidate", { candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host", sdpMid: "0", sdpMLineIndex: 0 }],
    ["media_candidate", { candidate: null, sdpMid: null, sdpMLineIndex: null }],
    ["media_candidate", { candidate: null, sdpMid: null, sdpMLineIndex: null }],
    ["media_screen", {}],
    ["media_state", { audio_muted: true, screen_sharing: false }],
    ["media_leave", {}],
  ]);
  assert.throws(() => c.mediaJoin(["webcam"]), TypeError);
  assert.throws(() => c.mediaState({ muted: true }), TypeError);
});

test("recording: state changes reach the page, consent answers carry the payload", async () => {
  const s = new FakeSocket();
  s.connected = true;
  const c = new ClassroomConnection(s, { ackTimeoutMs: 200 });
  const states = [];
  c.on("recording_state", (payload) => states.push(payload));
  const payload = { recording: { id: 3, state: "recording" }, reason: null };
  s.fire("recording_state", payload);
  assert.deepEqual(states, [payload]);

  await c.recordingConsent(true);
  await c.recordingConsent(false);
  assert.deepEqual(s.sent, [
    ["recording_consent", { accepted: true }],
    ["recording_consent", { accepted: false }],
  ]);
  assert.throws(() => c.recordingConsent("yes"), TypeError);
  s.reply = () => ({ error: { code: "not_found", message: "this classroom is not being recorded" } });
  await assert.rejects(c.recordingConsent(true), (e) => e.code === "not_found" && e.event === "recording_consent");
});

test("watching classrooms: waits for the connection, survives reconnects, passes classroom_status on", async () => {
  const s = new FakeSocket();
  const c = new ClassroomConnection(s, { ackTimeoutMs: 200 });
  const seen = [];
  for (const ev of ["classroom_status", "rights_changed", "rewatched"]) c.on(ev, (p) => seen.push([ev, p]));

  const watching = c.watchClassrooms();
  s.connected = true; s.fire("connect");
  assert.deepEqual(await watching, { ok: true });
  assert.deepEqual(s.sent, [["watch_classrooms", {}]]);
  assert.equal(c.watching, true);
  assert.equal(c.classroomId, null, "watching is no join");

  s.fire("classroom_status", { classroom_id: 7 });
  s.fire("rights_changed", { self: { user_id: 1 }, rights: { can_moderate: false, can_record: false }, classroom: { id: 7 } });
  assert.deepEqual(seen.map(([ev]) => ev), ["classroom_status", "rights_changed"]);
  assert.deepEqual(seen[0][1], { classroom_id: 7 });

  s.connected = false; s.fire("disconnect", "transport close");
  s.connected = true; s.fire("connect");
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(s.sent.at(-1), ["watch_classrooms", {}]);
  assert.equal(s.sent.filter(([ev]) => ev === "join").length, 0);
  assert.deepEqual(seen.at(-1), ["rewatched", {}]);

  s.reply = () => ({ error: { code: "unauthorized", message: "log in" } });
  const refused = new ClassroomConnection(Object.assign(new FakeSocket(), { connected: true }), { ackTimeoutMs: 200 });
  refused.socket.reply = s.reply;
  await assert.rejects(refused.watchClassrooms(), (e) => e.code === "unauthorized" && e.event === "watch_classrooms");
  assert.equal(refused.watching, false);

  c.close();
  assert.equal(c.watching, false);
});
