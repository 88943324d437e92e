// How this page's media connection is doing, as everyone in the classroom should know it: "connecting",
// "connected", "failed" (ICE did not connect within 8 s, or the peer connection failed) or "no_media"
// (connected, but nothing arrives from the others who publish for 8 s). Watches the MediaSession's peer
// connection state and its getStats() (video frames decoded, audio samples received); every change is
// reported to the server (media_health) and to the page, which shows what to try. DOM-free.

export const HEALTH_STATES = Object.freeze(["connecting", "connected", "failed", "no_media"]);
export const CONNECT_TIMEOUT_MS = 8000;
export const NO_MEDIA_MS = 8000;
const POLL_MS = 1000;

/** What the page tells its user for each state it shows (null: nothing to say). */
export const HEALTH_MESSAGES = Object.freeze({
  failed: "Your audio and video could not connect. Check your network or firewall; try Reconnect.",
  no_media:
    "You receive no audio or video from the others. Check your network or firewall; try Reconnect.",
  connecting: null,
  connected: null,
});

export class MediaHealth {
  /**
   * @param session a MediaSession (web/js/media.js)
   * @param options.report async (state) => void: tells the server (ClassroomConnection.mediaHealth)
   * @param options.onChange (state) => void: the state changed
   * @param options.expectingMedia () => boolean: someone else publishes a microphone or camera now
   */
  constructor(session, { report, onChange = () => {}, expectingMedia = () => false, timeouts = {} }) {
    this.session = session;
    this._report = report;
    this._onChange = onChange;
    this._expectingMedia = expectingMedia;
    this._connectTimeoutMs = timeouts.connectMs ?? CONNECT_TIMEOUT_MS;
    this._noMediaMs = timeouts.noMediaMs ?? NO_MEDIA_MS;
    this.state = null;
    this._reported = null;
    this._connectTimer = null;
    this._pollTimer = null;
    this._received = -1; // frames decoded + audio samples received, at the last poll
    this._quietSince = null; // when media last arrived (or we started expecting it)
    this._watching = false;
    session.on("connection_state", (state) => this._connectionState(state));
    session.on("restarting", () => this._connecting());
  }

  /**
   * Media is starting (or restarting by hand): failed if not connected within 8 s. "connecting" is told
   * to the server only after a failure (its default "unknown" says as much, and a report in front of the
   * first media_join would only delay it).
   */
  start() {
    this._watching = true;
    this._connecting({ fresh: true, report: this.state === "failed" || this.state === "no_media" });
  }

  /** Media has ended: nothing to watch or report. */
  stop() {
    this._watching = false;
    clearTimeout(this._connectTimer);
    clearInterval(this._pollTimer);
    this._connectTimer = null;
    this._pollTimer = null;
    this.state = null;
    this._reported = null;
  }

  /**
   * The server says how it sees our media (our participant's media_health): when it has closed our peer
   * connection as failed, we are failed at once, without waiting out the 8 s.
   */
  serverSays(state) {
    if (!this._watching || state !== "failed" || this.state === "connected" || this.state === "failed") return;
    clearTimeout(this._connectTimer);
    this._connectTimer = null;
    this._set("failed", { report: false });
  }

  /** Reports the current state again (after a reconnect the server has a new participant). */
  reportAgain() {
    this._reported = null;
    if (this.state) this._send(this.state);
  }

  // ---- internals ----------------------------------------------------------------------------------

  _connecting({ fresh = false, report = true } = {}) {
    if (!this._watching) return;
    clearInterval(this._pollTimer);
    this._pollTimer = null;
    // The 8 s run from the start (or Reconnect): automatic retries in between do not push them back.
    if (fresh || this._connectTimer === null) {
      clearTimeout(this._connectTimer);
      this._connectTimer = setTimeout(() => {
        this._connectTimer = null;
        if (this.session.pc?.connectionState !== "connected") this._set("failed");
      }, this._connectTimeoutMs);
    }
    // An automatic retry after a failure is still a failure for the others until it connects.
    if (fresh || this.state !== "failed") this._set("connecting", { report });
  }

  _connectionState(state) {
    if (!this._watching) return;
    if (state === "connected") {
      clearTimeout(this._connectTimer);
      this._connectTimer = null;
      this._set("connected");
      this._watchMedia();
    } else if (state === "failed") {
      this._set("failed");
    }
  }

  _watchMedia() {
    clearInterval(this._pollTimer);
    this._received = -1;
    this._quietSince = Date.now();
    this._pollTimer = setInterval(() => this._poll().catch(() => {}), POLL_MS);
  }

  async _poll() {
    const pc = this.session.pc;
    if (!pc || pc.connectionState !== "connected") return;
    const received = await receivedCount(pc);
    const now = Date.now();
    // The first poll is the baseline: what arrived before it counts from the moment we connected.
    const arrived = this._received >= 0 && received > this._received;
    this._received = received;
    if (arrived || !this._expectingMedia()) {
      this._quietSince = now;
      if (this.state === "no_media") this._set("connected");
      return;
    }
    if (now - this._quietSince >= this._noMediaMs && this.state === "connected") this._set("no_media");
  }

  _set(state, { report = true } = {}) {
    if (this.state === state) return;
    this.state = state;
    this._onChange(state);
    if (report) this._send(state);
  }

  _send(state) {
    if (this._reported === state) return;
    this._reported = state;
    Promise.resolve(this._report(state)).catch(() => {
      // Not joined (any more) or disconnected: the next join reports again.
      if (this._reported === state) this._reported = null;
    });
  }
}

/** Video frames decoded plus audio samples received over every inbound stream of `pc`. */
export async function receivedCount(pc) {
  let total = 0;
  (await pc.getStats()).forEach((stats) => {
    if (stats.type !== "inbound-rtp") return;
    total += stats.kind === "video" ? (stats.framesDecoded ?? 0) : (stats.totalSamplesReceived ?? 0);
  });
  return total;
}
