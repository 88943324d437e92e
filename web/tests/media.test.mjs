// MediaSession (web/js/media.js) against a fake connection and fake peer connections: the answer loop,
// trickling, mute, screen share, restart after ICE failure and stop, as docs/protocol.md describes them.
import assert from "node:assert/strict";
import { test } from "node:test";
import { MediaSession } from "../js/media.js";

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

class FakeTrack {
  constructor(kind, id) { this.kind = kind; this.id = id; this.enabled = true; this.stopped = false; }
  stop() { this.stopped = true; }
}

// A fake offer's "sdp" lists its m-lines; the fake peer connection makes a transceiver for each new mid.
const offer = (revision, mlines, publishMids, sources = {}) => ({
  revision, type: "offer", sdp: JSON.stringify(mlines), publish_mids: publishMids, sources,
});

class FakePeerConnection {
  static gatherAtOnce = [];
  constructor(config) {
    this.config = config; this.transceivers = []; this.closed = false; this.connectionState = "new";
    this.remoteOffers = []; this.localDescription = null; this.signalingState = "stable"; this.replaced = [];
  }
  async setRemoteDescription({ type, sdp }) {
    if (this.closed) throw new Error("closed");
    assert.equal(type, "offer");
    for (const [mid, kind] of JSON.parse(sdp)) {
      if (this.transceivers.some((t) => t.mid === mid)) continue;
      // Records every replaceTrack: what this m-line sends is the sender's track, null meaning nothing.
      const sender = { track: null, replaceTrack: async (track) => { sender.track = track; this.replaced.push([mid, track?.id ?? null]); } };
      this.transceivers.push({ mid, direction: "recvonly", sender, receiver: { track: new FakeTrack(kind, `remote-${mid}`) } });
    }
    this.remoteOffers.push(sdp);
    this.signalingState = "have-remote-offer";
  }
  getTransceivers() { return this.transceivers; }
  async createAnswer() {
    return { type: "answer", sdp: this.transceivers.map((t) => `${t.mid}:${t.direction}:${t.sender.track?.id ?? "-"}`).join(" ") };
  }
  async setLocalDescription(description) {
    this.localDescription = description; this.signalingState = "stable";
    // Gathering may report candidates before the code that set the answer runs again.
    for (const candidate of FakePeerConnection.gatherAtOnce.splice(0)) this.candidate(candidate);
  }
  close() { this.closed = true; this.connectionState = "closed"; }
  candidate(candidate) { this.onicecandidate?.({ candidate }); }
  state(connectionState) { this.connectionState = connectionState; this.onconnectionstatechange?.(); }
}

class FakeConnection {
  constructor() { this.sent = []; this.listeners = new Map(); this.replies = new Map(); }
  on(event, fn) { this.listeners.set(event, fn); return () => this.listeners.delete(event); }
  fire(event, payload) { this.listeners.get(event)?.(payload); }
  _call(event, payload) {
    this.sent.push([event, payload]);
    const reply = this.replies.get(event);
    return Promise.resolve(typeof reply === "function" ? reply(payload) : (reply ?? { ok: true }));
  }
  mediaJoin(publish) { return this._call("media_join", { publish }); }
  mediaAnswer(revision, sdp) { return this._call("media_answer", { revision, sdp }); }
  mediaCandidate(candidate) { return this._call("media_candidate", candidate); }
  mediaScreen() { return this._call("media_screen", {}); }
  mediaState(changes) { return this._call("media_state", changes); }
  mediaLeave() { return this._call("media_leave", {}); }
  events(name) { return this.sent.filter(([event]) => event === name).map(([, payload]) => payload); }
}

function setUp() {
  const connection = new FakeConnection();
  const pcs = [];
  const session = new MediaSession(connection, {
    createPeerConnection: (config) => {
      const pc = new FakePeerConnection(config);
      pcs.push(pc);
      return pc;
    },
  });
  const seen = { sources: [], restarting: [], error: [] };
  for (const event of Object.keys(seen)) session.on(event, (payload) => seen[event].push(payload));
  const tracks = { microphone: new FakeTrack("audio", "mic"), camera: new FakeTrack("video", "cam") };
  return { connection, pcs, session, seen, tracks };
}

const WITH_SCREEN_MLINES = [["0", "audio"], ["1", "video"], ["2", "audio"], ["3", "video"], ["4", "video"]];
const FIRST = offer(1, [["0", "audio"], ["1", "video"], ["2", "audio"], ["3", "video"]], { microphone: "0", camera: "1" },
  { 2: { user_id: 7, source: "microphone" }, 3: { user_id: 7, source: "camera" } });

function openScreenOnRequest(connection) {
  connection.replies.set("media_screen", () => {
    // The server sends the offer with the screen m-line before it acknowledges media_screen.
    connection.fire("media_offer", offer(2, WITH_SCREEN_MLINES, { microphone: "0", camera: "1", screen: "4" }, FIRST.sources));
    return { ok: true, renegotiating: true };
  });
}

test("start publishes on publish_mids, answers with the revision, then trickles", async () => {
  const { connection, pcs, session, seen, tracks } = setUp();
  const iceServers = [{ urls: ["stun:127.0.0.1:3478"] }];
  connection.replies.set("media_join", { ok: true, ice_servers: iceServers, offer: FIRST });
  FakePeerConnection.gatherAtOnce.push({ candidate: "candidate:early", sdpMid: "0", sdpMLineIndex: 0 });
  await session.start(tracks);

  assert.deepEqual(connection.sent[0], ["media_join", { publish: ["microphone", "camera"] }]);
  assert.deepEqual(pcs[0].config, { iceServers, bundlePolicy: "max-bundle" });
  assert.deepEqual(connection.events("media_answer"), [{ revision: 1, sdp: "0:sendonly:mic 1:sendonly:cam 2:recvonly:- 3:recvonly:-" }]);
  const answerAt = connection.sent.findIndex(([event]) => event === "media_answer");
  const candidateAt = connection.sent.findIndex(([event]) => event === "media_candidate");
  assert.ok(candidateAt > answerAt, "the early candidate follows the answer");

  pcs[0].candidate({ candidate: "candidate:late", sdpMid: "0", sdpMLineIndex: 0, toJSON() { return { candidate: this.candidate, sdpMid: "0", sdpMLineIndex: 0 }; } });
  pcs[0].candidate(null);
  assert.deepEqual(connection.events("media_candidate").map((c) => c?.candidate ?? null), ["candidate:early", "candidate:late", null]);

  const sources = seen.sources.at(-1);
  assert.deepEqual(sources.map(({ mid, userId, source, track }) => [mid, userId, source, track.id]),
    [["2", 7, "microphone", "remote-2"], ["3", 7, "camera", "remote-3"]]);
  await assert.rejects(session.start(tracks), /already started/);
});

test("renegotiations are answered one after the other; a stream that ended leaves the sources", async () => {
  const { connection, pcs, session, seen, tracks } = setUp();
  connection.replies.set("media_join", { ok: true, ice_servers: [], offer: FIRST });
  await session.start(tracks);
  const order = [];
  const realSet = pcs[0].setRemoteDescription.bind(pcs[0]);
  pcs[0].setRemoteDescription = async (description) => {
    order.push(`set ${JSON.parse(description.sdp).length}`);
    await tick();
    await realSet(description);
  };
  connection.replies.set("media_answer", ({ revision }) => { order.push(`answer ${revision}`); return { ok: true }; });
  const mlines = [["0", "audio"], ["1", "video"], ["2", "audio"], ["3", "video"], ["4", "audio"], ["5", "video"]];
  connection.fire("media_offer", offer(2, mlines.slice(0, 5), { microphone: "0", camera: "1" },
    { 2: { user_id: 7, source: "microphone" }, 4: { user_id: 8, source: "microphone" } }));
  connection.fire("media_offer", offer(3, mlines, { microphone: "0", camera: "1" },
    { 4: { user_id: 8, source: "microphone" }, 5: { user_id: 8, source: "camera" } }));
  await tick(); await tick(); await tick();
  assert.deepEqual(order, ["set 5", "answer 2", "set 6", "answer 3"]);
  assert.deepEqual(seen.sources.at(-1).map(({ mid, userId }) => [mid, userId]), [["4", 8], ["5", 8]]);

  connection.replies.set("media_answer", () => Promise.reject(Object.assign(new Error("not the offer in flight"), { code: "conflict" })));
  connection.fire("media_offer", offer(4, mlines, { microphone: "0", camera: "1" }, {}));
  await tick(); await tick();
  assert.equal(seen.error.at(-1).code, "conflict");
});

test("mute sends nothing: the m-line's sender loses its track (not a disabled one), unmute puts it back", async () => {
  const { connection, pcs, session, tracks } = setUp();
  connection.replies.set("media_join", { ok: true, ice_servers: [], offer: FIRST });
  await session.start(tracks);
  const pc = pcs[0];
  const sender = (mid) => pc.transceivers.find((t) => t.mid === mid);
  assert.equal(sender("0").sender.track, tracks.microphone);
  assert.equal(sender("1").sender.track, tracks.camera);
  pc.replaced.length = 0;

  await session.setMuted("audio", true);
  assert.equal(sender("0").sender.track, null, "a muted microphone's m-line has no track to send");
  assert.equal(sender("0").direction, "sendonly", "the m-line stays for the unmute, no renegotiation");
  assert.equal(sender("1").sender.track, tracks.camera);
  assert.deepEqual(pc.replaced, [["0", null]]);

  // A renegotiation while muted (someone joins) must not put the microphone back on its m-line.
  connection.fire("media_offer", offer(2, [...JSON.parse(FIRST.sdp), ["4", "audio"]], FIRST.publish_mids, FIRST.sources));
  await tick();
  assert.equal(connection.events("media_answer").at(-1).sdp, "0:sendonly:- 1:sendonly:cam 2:recvonly:- 3:recvonly:- 4:recvonly:-");
  assert.equal(sender("0").sender.track, null);

  await session.setMuted("video", true);
  assert.equal(sender("1").sender.track, null, "a camera turned off sends no black frames either");
  await session.setMuted("video", false);
  assert.equal(sender("1").sender.track, tracks.camera);
  await session.setMuted("audio", false);
  assert.equal(sender("0").sender.track, tracks.microphone);
  assert.deepEqual(pc.replaced, [["0", null], ["1", null], ["1", "cam"], ["0", "mic"]]);
  assert.equal(tracks.microphone.enabled, true);

  assert.deepEqual(connection.events("media_state"), [
    { audio_muted: true }, { video_muted: true }, { video_muted: false }, { audio_muted: false },
  ]);
  assert.deepEqual(session.muted, { audio: false, video: false });
  await assert.rejects(session.setMuted("screen", true), TypeError);
});

test("screen share opens the screen m-line once, then reuses it", async () => {
  const { connection, pcs, session, tracks } = setUp();
  connection.replies.set("media_join", { ok: true, ice_servers: [], offer: FIRST });
  await session.start(tracks);
  openScreenOnRequest(connection);
  const screen = new FakeTrack("video", "screen");
  await session.shareScreen(screen);
  const screenSender = pcs[0].transceivers.find((t) => t.mid === "4");
  assert.equal(screenSender.sender.track, screen);
  assert.equal(screenSender.direction, "sendonly");
  assert.deepEqual(connection.events("media_state").at(-1), { screen_sharing: true });
  assert.ok(session.sharingScreen);

  await session.stopScreen();
  assert.equal(screenSender.sender.track, null);
  assert.ok(screen.stopped);
  assert.deepEqual(connection.events("media_state").at(-1), { screen_sharing: false });

  connection.replies.set("media_screen", { ok: true, renegotiating: false });
  const again = new FakeTrack("video", "screen-2");
  await session.shareScreen(again);
  assert.equal(screenSender.sender.track, again);
  assert.equal(connection.events("media_answer").length, 2);
});

test("an ICE failure makes a new peer connection with media_join; offers for the old one are dropped", async () => {
  const { connection, pcs, session, seen, tracks } = setUp();
  connection.replies.set("media_join", { ok: true, ice_servers: [], offer: FIRST });
  await session.start(tracks);
  await session.setMuted("audio", true);
  openScreenOnRequest(connection);
  await session.shareScreen(new FakeTrack("video", "screen"));

  let releaseJoin;
  connection.replies.set("media_join", () => new Promise((resolve) => { releaseJoin = () => resolve({ ok: true, ice_servers: [], offer: FIRST }); }));
  pcs[0].state("connected");
  pcs[0].state("failed");
  await tick();
  assert.ok(pcs[0].closed);
  assert.deepEqual(connection.events("media_join").at(-1), { publish: ["microphone", "camera", "screen"] });
  assert.equal(seen.restarting.length, 1);
  connection.fire("media_offer", offer(9, [["0", "audio"]], {}, {})); // the old peer's, in flight
  releaseJoin();
  await tick(); await tick();
  assert.equal(pcs.length, 2);
  assert.deepEqual(pcs[1].remoteOffers, [FIRST.sdp]);
  assert.deepEqual(connection.events("media_answer").at(-1).revision, 1);
  assert.deepEqual(connection.events("media_state").at(-1), { audio_muted: true, video_muted: false, screen_sharing: true });
  assert.equal(pcs[1].transceivers[0].sender.track, null); // still muted on the new peer: nothing sent
  await session.setMuted("audio", false);
  assert.equal(pcs[1].transceivers[0].sender.track, tracks.microphone);
});

test("stop closes, stops the tracks and tells the server; a failed start leaves nothing behind", async () => {
  const { connection, pcs, session, seen, tracks } = setUp();
  connection.replies.set("media_join", { ok: true, ice_servers: [], offer: FIRST });
  await session.start(tracks);
  await session.stop();
  assert.ok(pcs[0].closed);
  assert.ok(tracks.microphone.stopped && tracks.camera.stopped);
  assert.deepEqual(seen.sources.at(-1), []);
  assert.deepEqual(connection.sent.at(-1), ["media_leave", {}]);
  pcs[0].state("failed");
  await tick();
  assert.equal(connection.events("media_join").length, 1, "no restart after stop");

  const failing = setUp();
  failing.connection.replies.set("media_join", { ok: true, ice_servers: [], offer: FIRST });
  failing.connection.replies.set("media_answer", () => Promise.reject(new Error("invalid answer")));
  await assert.rejects(failing.session.start(failing.tracks), /invalid answer/);
  assert.equal(failing.session.active, false);
  assert.ok(failing.pcs[0].closed);
  assert.ok(failing.tracks.camera.stopped);
  assert.deepEqual(failing.connection.sent.at(-1), ["media_leave", {}]);
  failing.connection.replies.set("media_answer", { ok: true });
  await failing.session.start({ microphone: new FakeTrack("audio", "mic-2") });
  assert.deepEqual(failing.connection.events("media_join").at(-1), { publish: ["microphone"] });
});

test("replaceTrack swaps a device in place (no media_join, old track stopped); an unpublished source joins again", async () => {
  const { connection, pcs, session } = setUp();
  connection.replies.set("media_join", { ok: true, ice_servers: [], offer: FIRST });
  const microphone = new FakeTrack("audio", "mic");
  await session.start({ microphone });
  const camera = new FakeTrack("video", "cam");
  const other = new FakeTrack("audio", "mic2");
  await session.setMuted("audio", true);
  await session.replaceTrack("microphone", other);
  assert.equal(microphone.stopped, true);
  assert.equal(other.enabled, false, "a muted microphone stays muted on the new device");
  assert.equal(connection.events("media_join").length, 1);
  await session.setMuted("audio", false);
  assert.equal(pcs[0].transceivers.find((t) => t.mid === "0").sender.track, other);

  await session.replaceTrack("camera", camera);
  assert.deepEqual(connection.events("media_join").at(-1), { publish: ["microphone", "camera"] });
  assert.equal(pcs.length, 2);
  assert.equal(pcs[1].transceivers.find((t) => t.mid === "1").sender.track, camera);
  await assert.rejects(session.replaceTrack("screen", camera), /cannot replace screen/);
});
