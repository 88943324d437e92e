// The classroom signalling protocol (docs/protocol.md, "socket.io: namespace /classroom").
// DOM-free: it wraps a socket.io client socket handed in by the page, so it can be driven by a fake in tests.

export const NAMESPACE = "/classroom";
export const ACK_TIMEOUT_MS = 10000;
const SERVER_DISCONNECT_RETRY_MS = 1000;

/** Events the server pushes; on(name, fn) receives their payload unchanged. */
export const SERVER_EVENTS = Object.freeze([
  "participant_joined",
  "participant_left",
  "participant_updated",
  "chat",
  "mute_requested",
  "removed",
  "media_offer",
  "active_speaker",
  "recording_state",
  "rights_changed",
  "classroom_status",
  "error",
  "recording_media",
  "replay_state",
  "bookmark_added",
]);

/**
 * Connection events added by this module:
 * - "connection_lost" {reason}: the socket dropped; socket.io reconnects by itself.
 * - "rejoined" (join ack): after a reconnect the classroom was joined again; the ack replaces all state.
 * - "rejoin_failed" (ProtocolError): joining again after a reconnect failed; the classroom is left.
 * - "connect_failed" (ProtocolError): the server refused the connection (e.g. code "unauthorized").
 * - "rewatched" ({}): after a reconnect the classrooms are watched again; statuses sent meanwhile were missed.
 */
export const CONNECTION_EVENTS = Object.freeze([
  "connection_lost",
  "rejoined",
  "rejoin_failed",
  "connect_failed",
  "rewatched",
]);

export const MUTE_KINDS = Object.freeze(["audio", "video"]);
export const MEDIA_SOURCES = Object.freeze(["microphone", "camera", "screen"]);
/** What a page reports with mediaHealth; the server adds "unknown" for pages that have not reported. */
export const MEDIA_HEALTH_STATES = Object.freeze(["connecting", "connected", "failed", "no_media"]);
const MEDIA_STATE_FIELDS = Object.freeze(["audio_muted", "video_muted", "screen_sharing"]);

/** A failed request: the server's {"error": {code, message}} ack, or a local failure (timeout, disconnected). */
export class ProtocolError extends Error {
  constructor(code, message, event = null) {
    super(message);
    this.name = "ProtocolError";
    this.code = code;
    this.event = event;
  }
}

/** One browser's membership of one classroom, over a socket.io client socket on the /classroom namespace. */
export class ClassroomConnection {
  constructor(socket, { ackTimeoutMs = ACK_TIMEOUT_MS } = {}) {
    this.socket = socket;
    this.ackTimeoutMs = ackTimeoutMs;
    // Set once a join is acknowledged; a reconnect re-joins it. Cleared by leave, removal and close.
    this.classroomId = null;
    // Set once watch_classrooms is acknowledged; a reconnect watches again. Cleared by close.
    this.watching = false;
    this._listeners = new Map();
    this._lostConnection = false;

    for (const event of SERVER_EVENTS) {
      socket.on(event, (payload) => {
        // The server has already taken us out: never join again behind the user's back.
        if (event === "removed") this.classroomId = null;
        this._dispatch(event, payload);
      });
    }
    socket.on("connect", () => this._onConnect());
    socket.on("disconnect", (reason) => {
      this._lostConnection = true;
      this._dispatch("connection_lost", { reason });
      // socket.io only reconnects by itself after network failures; a server that disconnects us (e.g. while
      // restarting) would leave the classroom dead. If the session is gone, the retry ends in connect_failed.
      const wanted = () => this.classroomId !== null || this.watching;
      if (reason === "io server disconnect" && wanted()) {
        setTimeout(() => wanted() && socket.connect(), SERVER_DISCONNECT_RETRY_MS);
      }
    });
    socket.on("connect_error", (err) => {
      // socket.active is false when the server refused us; otherwise socket.io keeps retrying.
      if (!socket.active) this._dispatch("connect_failed", connectError(err));
    });
  }

  /** Registers fn for a server or connection event; returns a function that unregisters it. */
  on(event, fn) {
    if (!SERVER_EVENTS.includes(event) && !CONNECTION_EVENTS.includes(event)) {
      throw new TypeError(`unknown classroom event: ${event}`);
    }
    if (!this._listeners.has(event)) this._listeners.set(event, new Set());
    this._listeners.get(event).add(fn);
    return () => this._listeners.get(event).delete(fn);
  }

  get connected() {
    return this.socket.connected;
  }

  /**
   * Resolves to {ok, self, classroom, participants, chat, limits, recording, reminder, consent, rights};
   * rejects with ProtocolError (not_found, classroom_full, ...).
   */
  async join(classroomId) {
    this.classroomId = null;
    await this._whenConnected();
    const ack = await this._request("join", { classroom_id: classroomId });
    this.classroomId = classroomId;
    return ack;
  }

  leave() {
    this.classroomId = null;
    return this._request("leave", {});
  }

  /** Resolves to {ok, message}. */
  chat(text) {
    return this._request("chat", { text });
  }

  hand(raised) {
    return this._request("hand", { raised: Boolean(raised) });
  }

  muteRequest(userId, kind = "audio") {
    if (!MUTE_KINDS.includes(kind)) throw new TypeError(`unknown mute kind: ${kind}`);
    return this._request("mute_request", { user_id: userId, kind });
  }

  remove(userId) {
    return this._request("remove", { user_id: userId });
  }

  /** A moderator lowers one participant's hand, or every hand when userId is null. */
  lowerHand(userId = null) {
    return this._request("lower_hand", { user_id: userId ?? null });
  }

  /** A moderator allows or denies a student's microphone, camera or screen for this live classroom. */
  mediaPermission(userId, source, allowed) {
    if (!MEDIA_SOURCES.includes(source)) throw new TypeError(`unknown media source: ${source}`);
    if (typeof allowed !== "boolean") throw new TypeError("allowed: true or false");
    return this._request("media_permission", { user_id: userId, source, allowed });
  }

  /** Tells the classroom how this page's media connection is doing (one of MEDIA_HEALTH_STATES). */
  mediaHealth(state) {
    if (!MEDIA_HEALTH_STATES.includes(state)) throw new TypeError(`unknown media health: ${state}`);
    return this._request("media_health", { state });
  }

  /** Answers the consent question of the recording in progress (consent mode "ask"). */
  recordingConsent(accepted) {
    if (typeof accepted !== "boolean") throw new TypeError("accepted: true or false");
    return this._request("recording_consent", { accepted });
  }

  // ---- media (docs/protocol.md, "Media: one peer connection, the server offers") ----

  /** Resolves to {ok, ice_servers, offer}: the server's first offer for a new peer connection. */
  mediaJoin(publish) {
    if (!Array.isArray(publish) || !publish.every((source) => MEDIA_SOURCES.includes(source))) {
      throw new TypeError(`publish: a list of ${MEDIA_SOURCES.join(", ")}`);
    }
    return this._request("media_join", { publish: [...publish] });
  }

  mediaAnswer(revision, sdp) {
    return this._request("media_answer", { revision, sdp });
  }

  /** Sends one trickled ICE candidate (an RTCIceCandidate or its JSON); null means end of candidates. */
  mediaCandidate(candidate) {
    if (candidate === null || candidate === undefined || !candidate.candidate) {
      return this._request("media_candidate", { candidate: null, sdpMid: null, sdpMLineIndex: null });
    }
    return this._request("media_candidate", {
      candidate: candidate.candidate,
      sdpMid: candidate.sdpMid ?? null,
      sdpMLineIndex: candidate.sdpMLineIndex ?? null,
    });
  }

  /** Resolves to {ok, renegotiating}: true when a media_offer with a screen publish mid follows. */
  mediaScreen() {
    return this._request("media_screen", {});
  }

  /** Tells the others what this participant shows: any of {audio_muted, video_muted, screen_sharing}. */
  mediaState(changes) {
    const payload = {};
    for (const [name, value] of Object.entries(changes)) {
      if (!MEDIA_STATE_FIELDS.includes(name)) throw new TypeError(`unknown media state: ${name}`);
      payload[name] = Boolean(value);
    }
    return this._request("media_state", payload);
  }

  mediaLeave() {
    return this._request("media_leave", {});
  }

  /**
   * Asks for `classroom_status` {classroom_id} whenever a classroom this user sees changes its seats,
   * recording or settings (the dashboard; no join). Watching survives reconnects ("rewatched").
   */
  async watchClassrooms() {
    await this._whenConnected();
    const ack = await this._request("watch_classrooms", {});
    this.watching = true;
    return ack;
  }

  /** Drops the connection for good (no reconnect, no re-join). */
  close() {
    this.classroomId = null;
    this.watching = false;
    this.socket.disconnect();
  }

  _dispatch(event, payload) {
    for (const fn of this._listeners.get(event) ?? []) {
      try {
        fn(payload);
      } catch (err) {
        // One broken listener must not starve the others of protocol events.
        console.error(`listener for ${event} failed`, err);
      }
    }
  }

  _onConnect() {
    if (!this._lostConnection) return;
    this._lostConnection = false;
    if (this.watching) {
      this._request("watch_classrooms", {}).then(
        () => this._dispatch("rewatched", {}),
        (err) => console.warn("watching classrooms again failed", err),
      );
    }
    const classroomId = this.classroomId;
    if (classroomId === null) return;
    this._request("join", { classroom_id: classroomId }).then(
      (ack) => this._dispatch("rejoined", ack),
      (err) => {
        if (this.classroomId === classroomId) this.classroomId = null;
        this._dispatch("rejoin_failed", err);
      },
    );
  }

  _whenConnected() {
    if (this.socket.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.socket.off("connect", onConnect);
        this.socket.off("connect_error", onError);
      };
      const onConnect = () => {
        done();
        resolve();
      };
      const onError = (err) => {
        if (this.socket.active) return;
        done();
        reject(connectError(err));
      };
      const timer = setTimeout(() => {
        done();
        reject(new ProtocolError("timeout", "Could not connect to the server."));
      }, this.ackTimeoutMs);
      this.socket.on("connect", onConnect);
      this.socket.on("connect_error", onError);
    });
  }

  async _request(event, payload) {
    // socket.io would buffer the event until it reconnects, after which the server no longer knows us.
    if (!this.socket.connected) {
      throw new ProtocolError("disconnected", "Not connected to the server; reconnecting.", event);
    }
    let ack;
    try {
      ack = await this.socket.timeout(this.ackTimeoutMs).emitWithAck(event, payload);
    } catch {
      throw new ProtocolError("timeout", "The server did not answer in time.", event);
    }
    if (ack && ack.ok === true) return ack;
    const error = ack && typeof ack.error === "object" && ack.error !== null ? ack.error : {};
    throw new ProtocolError(
      error.code ?? "invalid_response",
      error.message ?? `Unexpected answer to ${event}.`,
      event,
    );
  }
}

function connectError(err) {
  const message = err && err.message ? err.message : "connection refused";
  if (message === "unauthorized") {
    return new ProtocolError("unauthorized", "Your session has expired; please log in again.");
  }
  return new ProtocolError("connect_failed", `Could not connect to the classroom: ${message}.`);
}
