// One participant's live media with the classroom server (docs/protocol.md, "Media: one peer connection,
// the server offers"). DOM-free: it drives an RTCPeerConnection (created by an injectable factory) over a
// ClassroomConnection, so node tests can run it against fakes.

/** Events a MediaSession emits; on(name, fn) receives the payload described here. */
export const MEDIA_EVENTS = Object.freeze([
  // [{mid, userId, source, track}]: every other participant's stream, after each offer (and [] on stop).
  "sources",
  // The peer connection's connectionState ("connecting", "connected", "failed", ...).
  "connection_state",
  // {attempt}: the connection failed and a new one is being set up (media_join again).
  "restarting",
  // An Error (often a ProtocolError) from work nobody awaits: answering a renegotiation, trickling.
  "error",
]);

const SCREEN_ATTACH_TIMEOUT_MS = 15000;
const MAX_RESTART_DELAY_MS = 10000;

export class MediaSession {
  /**
   * @param connection a ClassroomConnection (web/js/protocol.js) of a joined classroom
   * @param options.createPeerConnection (RTCConfiguration) => RTCPeerConnection
   */
  constructor(connection, { createPeerConnection } = {}) {
    this.connection = connection;
    this._createPeerConnection = createPeerConnection ?? ((config) => new globalThis.RTCPeerConnection(config));
    this.pc = null;
    this.active = false;
    // What this participant asked to publish with its camera and microphone (screen is added while shared).
    this.publish = [];
    // source name -> MediaStreamTrack (or null); put on the transceivers of publish_mids.
    this.tracks = {};
    this.publishMids = {};
    this.remoteSources = [];
    this.muted = { audio: false, video: false };
    this._listeners = new Map();
    // Every piece of work on the peer connection of one media_join carries its generation; a restart or
    // stop makes the older generation's work (queued offers, candidates) moot.
    this._generation = 0;
    this._joining = null;
    this._offers = Promise.resolve();
    this._answered = false;
    this._pendingCandidates = [];
    this._screenWaiter = null;
    this._failures = 0;
    this._restartTimer = null;
    connection.on("media_offer", (offer) => this._offerArrived(offer));
  }

  /** Registers fn for a MEDIA_EVENTS event; returns a function that unregisters it. */
  on(event, fn) {
    if (!MEDIA_EVENTS.includes(event)) throw new TypeError(`unknown media event: ${event}`);
    if (!this._listeners.has(event)) this._listeners.set(event, new Set());
    this._listeners.get(event).add(fn);
    return () => this._listeners.get(event).delete(fn);
  }

  /**
   * Starts media: publishes `tracks` ({microphone, camera}: MediaStreamTrack, either may be absent) and
   * receives everyone else. Resolves once the first offer is answered; rejects with the server's error.
   */
  async start(tracks = {}) {
    if (this.active) throw new Error("media already started");
    this.active = true;
    this.tracks = {};
    for (const source of ["microphone", "camera"]) {
      if (tracks[source]) this.tracks[source] = tracks[source];
    }
    this.publish = Object.keys(this.tracks);
    this.muted = { audio: false, video: false };
    this._failures = 0;
    try {
      await this._join();
    } catch (err) {
      // Leave nothing half set up: the server drops its peer, the local tracks stop.
      await this.stop();
      throw err;
    }
  }

  /** Sets up a new peer connection (media_join again); the server replaces the old one. */
  async restart() {
    if (!this.active) return;
    clearTimeout(this._restartTimer);
    this._restartTimer = null;
    this._emit("restarting", { attempt: this._failures });
    await this._join();
    // A new peer starts with the defaults; tell the others again what they should show.
    const sharing = Boolean(this.tracks.screen);
    if (this.muted.audio || this.muted.video || sharing) {
      await this.connection.mediaState({
        audio_muted: this.muted.audio,
        video_muted: this.muted.video,
        screen_sharing: sharing,
      });
    }
  }

  /** Mutes or unmutes the microphone ("audio") or turns the camera ("video") off or on. */
  async setMuted(kind, muted) {
    const source = { audio: "microphone", video: "camera" }[kind];
    if (!source) throw new TypeError(`unknown media kind: ${kind}`);
    const track = this.tracks[source];
    if (!track) throw new Error(`no ${source} to ${muted ? "mute" : "unmute"}`);
    track.enabled = !muted;
    this.muted[kind] = Boolean(muted);
    // Muted means nothing is sent (not silence or black frames): the server forwards a source only once
    // it carries media, so a class of muted microphones costs no one anything.
    if (this.pc) await this._attachTracks();
    await this.connection.mediaState({ [`${kind}_muted`]: Boolean(muted) });
  }

  /**
   * Swaps the microphone's or camera's track for `track` (another device) on the m-line it already has,
   * with RTCRtpSender.replaceTrack: no renegotiation, the others keep receiving. The old track stops. A
   * source that is not published yet (joined with it off) is added with one new media_join.
   */
  async replaceTrack(source, track) {
    if (!["microphone", "camera"].includes(source)) throw new TypeError(`cannot replace ${source}`);
    if (!this.active) throw new Error("media is not started");
    const kind = source === "microphone" ? "audio" : "video";
    const previous = this.tracks[source];
    track.enabled = !this.muted[kind];
    this.tracks[source] = track;
    if (previous && previous !== track) previous.stop();
    if (!this.publish.includes(source)) {
      this.publish = [...this.publish, source];
      await this.restart();
      return;
    }
    if (this.pc) await this._attachTracks();
  }

  get sharingScreen() {
    return Boolean(this.tracks.screen);
  }

  /** Publishes `track` (from getDisplayMedia) on this participant's screen m-line, opening it if needed. */
  async shareScreen(track) {
    if (!this.pc) throw new Error("media is not started");
    const previous = this.tracks.screen;
    this.tracks.screen = track;
    if (previous && previous !== track) previous.stop();
    const attached = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._screenWaiter = null;
        reject(new Error("the server did not open the screen share in time"));
      }, SCREEN_ATTACH_TIMEOUT_MS);
      this._screenWaiter = () => {
        clearTimeout(timer);
        this._screenWaiter = null;
        resolve();
      };
    });
    try {
      const ack = await this.connection.mediaScreen();
      // Without renegotiation the screen m-line is already ours (an earlier share): reuse it.
      if (!ack.renegotiating) await this._attachTracks();
      await attached;
    } catch (err) {
      // Refused (or never attached): the screen is no longer captured, and the wait ends quietly.
      attached.catch(() => {});
      this._screenWaiter?.();
      if (this.tracks.screen === track) {
        this.tracks.screen = null;
        track.stop();
      }
      throw err;
    }
    if (this.tracks.screen === track) await this.connection.mediaState({ screen_sharing: true });
  }

  /** Stops the screen share: the m-line stays for the next one (replaceTrack(null)). */
  async stopScreen() {
    const track = this.tracks.screen;
    if (!track) return;
    this.tracks.screen = null;
    track.stop();
    if (this.pc) await this._attachTracks();
    await this.connection.mediaState({ screen_sharing: false });
  }

  /**
   * Ends media: closes the peer connection and stops the local tracks; with notify (the default) also
   * tells the server (media_leave). Pass notify: false when the server has already dropped us.
   */
  async stop({ notify = true } = {}) {
    const wasActive = this.active;
    const joining = this._joining;
    this.active = false;
    this._generation += 1;
    clearTimeout(this._restartTimer);
    this._restartTimer = null;
    this._closePeer();
    for (const track of Object.values(this.tracks)) track?.stop();
    this.tracks = {};
    this.publish = [];
    this._setSources({});
    if (!notify || !wasActive) return;
    // A media_leave overtaking the media_join in flight would leave the server with a peer nobody uses.
    if (joining) await joining.catch(() => {});
    try {
      await this.connection.mediaLeave();
    } catch {
      // Not joined any more or disconnected: the server has dropped our media either way.
    }
  }

  // ---- internals ----------------------------------------------------------------------------------

  _emit(event, payload) {
    for (const fn of this._listeners.get(event) ?? []) {
      try {
        fn(payload);
      } catch (err) {
        console.error(`listener for ${event} failed`, err);
      }
    }
  }

  _publishList() {
    return this.tracks.screen ? [...this.publish, "screen"] : [...this.publish];
  }

  async _join() {
    this._generation += 1;
    const generation = this._generation;
    this._closePeer();
    const joining = this.connection.mediaJoin(this._publishList());
    this._joining = joining;
    let ack;
    try {
      ack = await joining;
    } finally {
      if (this._joining === joining) this._joining = null;
    }
    if (generation !== this._generation) return;
    this._openPeer(ack.ice_servers ?? []);
    await this._enqueue(ack.offer, generation);
  }

  _openPeer(iceServers) {
    const pc = this._createPeerConnection({ iceServers, bundlePolicy: "max-bundle" });
    this.pc = pc;
    this.publishMids = {};
    this._answered = false;
    this._pendingCandidates = [];
    pc.onicecandidate = (event) => {
      if (pc !== this.pc) return;
      if (this._answered) this._sendCandidate(event.candidate);
      else this._pendingCandidates.push(event.candidate);
    };
    pc.onconnectionstatechange = () => {
      if (pc !== this.pc) return;
      const connectionState = pc.connectionState;
      this._emit("connection_state", connectionState);
      if (connectionState === "connected") this._failures = 0;
      if (connectionState === "failed") this._scheduleRestart();
    };
  }

  _closePeer() {
    const pc = this.pc;
    this.pc = null;
    this.publishMids = {};
    this._pendingCandidates = [];
    if (pc) {
      pc.onicecandidate = null;
      pc.onconnectionstatechange = null;
      pc.close();
    }
  }

  _scheduleRestart() {
    if (!this.active || this._restartTimer !== null) return;
    // Back off when new connections keep failing (e.g. the network is still down).
    const delay = this._failures === 0 ? 0 : Math.min(1000 * 2 ** (this._failures - 1), MAX_RESTART_DELAY_MS);
    this._failures += 1;
    this._restartTimer = setTimeout(() => {
      this._restartTimer = null;
      this.restart().catch((err) => this._emit("error", err));
    }, delay);
  }

  _offerArrived(offer) {
    // While a media_join is in flight, offers belong to the peer the server is replacing.
    if (!this.pc || this._joining) return;
    this._enqueue(offer, this._generation).catch((err) => this._failed(err));
  }

  /** Work on the peer connection failed; a peer the server has closed (not_found) is set up again. */
  _failed(err) {
    if (err?.code === "not_found" && this.active) this._scheduleRestart();
    else this._emit("error", err);
  }

  /** Answers offers one after the other; resolves or rejects with this offer's exchange. */
  _enqueue(offer, generation) {
    const run = this._offers.then(() => (generation === this._generation ? this._answer(offer) : undefined));
    this._offers = run.catch(() => {});
    return run;
  }

  async _answer(offer) {
    const pc = this.pc;
    await pc.setRemoteDescription({ type: "offer", sdp: offer.sdp });
    if (pc !== this.pc) return;
    this.publishMids = { ...(offer.publish_mids ?? {}) };
    await this._attachTracks();
    await pc.setLocalDescription(await pc.createAnswer());
    if (pc !== this.pc) return;
    // Emitted at once (the ack comes later): candidates must follow the answer, never precede it.
    const acked = this.connection.mediaAnswer(offer.revision, pc.localDescription.sdp);
    if (!this._answered) {
      this._answered = true;
      for (const candidate of this._pendingCandidates.splice(0)) this._sendCandidate(candidate);
    }
    this._setSources(offer.sources ?? {});
    await acked;
  }

  /** Puts each local track on its publish m-line (sendonly), or null where nothing is published now (muted). */
  async _attachTracks() {
    const pc = this.pc;
    if (!pc) return;
    const sourceOf = new Map(Object.entries(this.publishMids).map(([source, mid]) => [mid, source]));
    for (const transceiver of pc.getTransceivers()) {
      const source = sourceOf.get(transceiver.mid);
      if (source === undefined) continue;
      const muted = (source === "microphone" && this.muted.audio) || (source === "camera" && this.muted.video);
      const track = muted ? null : (this.tracks[source] ?? null);
      if (transceiver.sender.track !== track) await transceiver.sender.replaceTrack(track);
      if (transceiver.direction !== "sendonly") transceiver.direction = "sendonly";
    }
    if (this._screenWaiter && this.tracks.screen && this.publishMids.screen !== undefined) this._screenWaiter();
  }

  _setSources(sources) {
    const remote = [];
    for (const transceiver of this.pc?.getTransceivers() ?? []) {
      const described = sources[transceiver.mid];
      if (!described) continue;
      remote.push({
        mid: transceiver.mid,
        userId: described.user_id,
        source: described.source,
        track: transceiver.receiver.track,
      });
    }
    this.remoteSources = remote;
    this._emit("sources", remote);
  }

  _sendCandidate(candidate) {
    const json = candidate && typeof candidate.toJSON === "function" ? candidate.toJSON() : candidate;
    this.connection.mediaCandidate(json).catch((err) => this._failed(err));
  }
}
