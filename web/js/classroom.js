// Live classroom page (/classrooms/{id}): joins the classroom and wires its parts together: the
// participant list (web/js/participants.js), the video tiles (web/js/tiles.js) over this page's media
// session (web/js/media.js), REC (web/js/rec_controls.js), chat and the page's own controls.
import { io } from "/vendor/socket.io.esm.min.js";
import { getClassroom } from "/static/js/api.js";
import { MediaSession } from "/static/js/media.js";
import { cameraState, micState } from "/static/js/media_state.js";
import { clearMessage, el, initPage, loginUrl, redirectIfUnauthorized, showMessage } from "/static/js/nav.js";
import { ParticipantList } from "/static/js/participants.js";
import { ClassroomConnection, NAMESPACE } from "/static/js/protocol.js";
import { RecControls } from "/static/js/rec_controls.js";
import { TileGrid } from "/static/js/tiles.js";

const page = {
  name: document.getElementById("classroom-name"),
  seats: document.getElementById("seats"),
  alert: document.getElementById("alert"),
  status: document.getElementById("status"),
  controls: document.getElementById("controls"),
  live: document.getElementById("live"),
  micButton: document.getElementById("mic-button"),
  cameraButton: document.getElementById("camera-button"),
  screenButton: document.getElementById("screen-button"),
  soundButton: document.getElementById("sound-button"),
  handButton: document.getElementById("hand-button"),
  leaveButton: document.getElementById("leave-button"),
  participants: document.getElementById("participants"),
  chatMessages: document.getElementById("chat-messages"),
  chatForm: document.getElementById("chat-form"),
  chatInput: document.getElementById("chat-input"),
  media: document.getElementById("media"),
};

// Enough for a classroom tile; the browser picks the nearest its camera offers.
const CAMERA_CONSTRAINTS = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24 } };

// What the page says when the server takes it out of the classroom (`removed` reasons, docs/protocol.md).
const REMOVED_MESSAGES = {
  removed: "You were removed from the classroom.",
  joined_elsewhere: "You joined this classroom from another window.",
  classroom_deleted: "This classroom was deleted.",
  access_revoked: "You no longer have access to this classroom.",
  account_deleted: "Your account was deleted.",
  session_ended: "You were logged out. Log in again to come back.",
};

/** What this page knows about the classroom; replaced wholesale by every join ack. */
const state = {
  connection: null,
  classroomId: null,
  joined: false,
  online: false, // joined and connected: controls that talk to the classroom work
  self: null,
  seatLimit: null,
  handRaised: false,
  chatIds: new Set(),
  actionError: null, // the alert text of the last failed action, cleared when an action succeeds
  speaking: null, // user_id of the active speaker
};

/** This page's own media and what it receives from the others. */
const media = {
  session: null,
  starting: false,
  local: {}, // {microphone, camera}: this participant's capture tracks
  remote: new Map(), // user_id -> {microphone, camera, screen}: tracks received from the server
  notice: null, // why we publish less than camera and microphone, shown in the status line
  soundBlocked: false,
  reconnecting: false,
};

const participants = new ParticipantList(page.participants, {
  onMute: (userId, button) => {
    const name = participants.displayName(userId);
    runAction(button, () => state.connection.muteRequest(userId, "audio"), `Asked ${name} to mute.`);
  },
  onRemove: (userId, button) => {
    const name = participants.displayName(userId);
    runAction(button, () => state.connection.remove(userId), `Removed ${name}.`);
  },
});

const tiles = new TileGrid(
  { tiles: document.getElementById("tiles"), screens: document.getElementById("screens") },
  { onSoundBlocked: soundWasBlocked },
);

let rec = null; // RecControls, made once the classroom is known

function recControls(classroomId) {
  const byId = (id) => document.getElementById(id);
  return new RecControls(
    {
      button: byId("rec-button"),
      text: document.querySelector("#rec-button .rec-text"),
      elapsed: document.querySelector("#rec-button .rec-elapsed"),
      reason: byId("rec-reason"),
      banner: byId("recording-banner"),
      consentDialog: byId("consent-dialog"),
      consentText: byId("consent-text"),
      consentAccept: byId("consent-accept"),
      consentDecline: byId("consent-decline"),
      reminderDialog: byId("reminder-dialog"),
      reminderStart: byId("reminder-start"),
      reminderDismiss: byId("reminder-dismiss"),
    },
    {
      connection: state.connection,
      classroomId,
      onError: (err) => redirectIfUnauthorized(err) || showActionError(err),
      onSuccess: actionSucceeded,
      onMessage: ({ text, alert }) => showMessage(alert ? page.alert : page.status, text),
      onActiveChanged: (active) => participants.setRecordingActive(active),
      onNewRecording: () => participants.forgetConsent(),
    },
  );
}

function classroomIdFromPath(pathname) {
  const match = /^\/classrooms\/(\d+)\/?$/.exec(pathname);
  return match ? Number(match[1]) : null;
}

function setClassroom(classroom) {
  page.name.textContent = classroom.name;
  document.title = `Aula — ${classroom.name}`;
  if (classroom.seat_limit !== undefined) state.seatLimit = classroom.seat_limit;
  if (classroom.seats_used !== undefined) setSeats(classroom.seats_used);
}

/** The server's count of seated participants (join ack, participant_joined, participant_left). */
function setSeats(used) {
  if (state.seatLimit === null) return;
  page.seats.textContent = `Seats: ${used} / ${state.seatLimit}`;
  page.seats.hidden = false;
}

function showActionError(err) {
  state.actionError = err.message;
  showMessage(page.alert, err.message);
}

function actionSucceeded() {
  if (state.actionError !== null && page.alert.textContent === state.actionError) clearMessage(page.alert);
  state.actionError = null;
}

// ---- participants and their tiles -------------------------------------------------------------------

function isSelf(userId) {
  return Boolean(state.self) && userId === state.self.user_id;
}

function upsertParticipant(participant) {
  participants.upsert(participant);
  if (isSelf(participant.user_id)) {
    state.self = participant;
    setHandRaised(participant.hand_raised);
    rec?.setSelf(participant);
  }
  renderTile(participant.user_id);
}

function removeParticipant(userId) {
  participants.remove(userId);
  tiles.remove(userId);
}

/** Our own tile follows the local state at once rather than the server's echo. */
function localState(source, kind) {
  if (!media.local[source] || !media.session?.active) return "off";
  return media.session.muted[kind] ? "muted" : "on";
}

/** Brings one participant's tile (and screen share) up to date with their state and tracks. */
function renderTile(userId) {
  const participant = participants.get(userId);
  if (!participant) return;
  const self = isSelf(userId);
  const tracks = self ? media.local : (media.remote.get(userId) ?? {});
  const sharing = self ? media.session?.sharingScreen : participant.screen_sharing;
  const screen = self ? media.session?.tracks.screen : tracks.screen;
  tiles.render(participant, {
    mic: self ? localState("microphone", "audio") : micState(participant),
    camera: self ? localState("camera", "video") : cameraState(participant),
    tracks,
    screen: sharing && screen ? screen : null,
    speaking: userId === state.speaking,
  });
}

function soundWasBlocked() {
  if (media.soundBlocked) return;
  media.soundBlocked = true;
  page.soundButton.hidden = false;
  showMediaStatus();
}

function showMediaStatus() {
  const sound = media.soundBlocked
    ? "Your browser holds back the classroom's sound: press “Turn on sound”."
    : null;
  showMessage(page.status, [media.notice, sound].filter(Boolean).join(" "));
}

function setSpeaker(userId) {
  const previous = state.speaking;
  state.speaking = userId;
  participants.setSpeaker(userId);
  for (const id of new Set([previous, userId])) if (id !== null) renderTile(id);
}

// ---- media session ------------------------------------------------------------------------------------

/** Asks for the camera and microphone; returns the tracks obtained and, if any is missing, why. */
async function captureDevices() {
  const devices = navigator.mediaDevices;
  if (!devices?.getUserMedia) {
    return { tracks: {}, problem: "This page cannot use a camera or microphone: you can watch and listen only." };
  }
  let refused = false;
  for (const constraints of [
    { audio: true, video: CAMERA_CONSTRAINTS },
    { audio: true, video: false },
    { audio: false, video: CAMERA_CONSTRAINTS },
  ]) {
    try {
      const stream = await devices.getUserMedia(constraints);
      const tracks = { microphone: stream.getAudioTracks()[0], camera: stream.getVideoTracks()[0] };
      let problem = null;
      if (!tracks.camera) problem = "No camera available: the others hear you but cannot see you.";
      if (!tracks.microphone) problem = "No microphone available: the others see you but cannot hear you.";
      return { tracks, problem };
    } catch (err) {
      // Refused: asking again for less would not change the answer.
      if (err.name === "NotAllowedError" || err.name === "SecurityError") {
        refused = true;
        break;
      }
    }
  }
  return {
    tracks: {},
    problem: refused
      ? "Camera and microphone are not allowed: you can watch and listen, but the others cannot see or hear you."
      : "No camera or microphone found: you can watch and listen, but the others cannot see or hear you.",
  };
}

function mediaSession() {
  if (media.session) return media.session;
  const session = new MediaSession(state.connection);
  session.on("sources", (sources) => {
    const remote = new Map();
    for (const { userId, source, track } of sources) {
      if (!remote.has(userId)) remote.set(userId, {});
      remote.get(userId)[source] = track;
    }
    const changed = new Set([...media.remote.keys(), ...remote.keys()]);
    media.remote = remote;
    for (const userId of changed) renderTile(userId);
  });
  session.on("connection_state", (connectionState) => {
    if (connectionState === "failed") {
      media.reconnecting = true;
      showMessage(page.status, "Audio and video were cut off. Reconnecting…");
    } else if (connectionState === "connected" && media.reconnecting) {
      media.reconnecting = false;
      showMediaStatus();
    }
  });
  session.on("error", (err) => console.warn("media:", err));
  media.session = session;
  return session;
}

/** Starts camera, microphone and receiving, once the classroom is joined. */
async function startMedia() {
  if (media.starting || media.session?.active) return;
  media.starting = true;
  page.media.hidden = false;
  try {
    const { tracks, problem } = await captureDevices();
    if (!state.joined) {
      for (const track of Object.values(tracks)) track?.stop();
      return;
    }
    media.local = tracks;
    media.notice = problem;
    await mediaSession().start(tracks);
    showMediaStatus();
  } catch (err) {
    media.local = {};
    if (state.joined) showMessage(page.alert, `Audio and video could not start: ${err.message}`);
  } finally {
    media.starting = false;
    renderMediaControls();
    if (state.self) renderTile(state.self.user_id);
  }
}

/** After a reconnect the server has dropped our media: set it up again (same tracks). */
async function restartMedia() {
  if (!media.session?.active) {
    await startMedia();
    return;
  }
  try {
    await media.session.restart();
    showMediaStatus();
  } catch (err) {
    showMessage(page.alert, `Audio and video could not start again: ${err.message}`);
  }
}

/** Ends our media; notify: false when the server has already taken us out. */
async function stopMedia({ notify = true } = {}) {
  const session = media.session;
  media.local = {};
  media.remote = new Map();
  if (session) await session.stop({ notify });
  renderMediaControls();
}

function renderMediaControls() {
  const session = media.session;
  const live = Boolean(state.joined && session?.active);
  page.micButton.textContent = session?.muted.audio ? "Unmute microphone" : "Mute microphone";
  page.micButton.disabled = !(live && media.local.microphone);
  page.cameraButton.textContent = session?.muted.video ? "Turn camera on" : "Turn camera off";
  page.cameraButton.disabled = !(live && media.local.camera);
  page.screenButton.textContent = session?.sharingScreen ? "Stop sharing" : "Share screen";
  page.screenButton.disabled = !(live && navigator.mediaDevices?.getDisplayMedia);
}

async function mediaAction(button, action) {
  button.disabled = true;
  try {
    await action();
    actionSucceeded();
  } catch (err) {
    showActionError(err);
  } finally {
    renderMediaControls();
    if (state.self) renderTile(state.self.user_id);
  }
}

async function toggleScreen() {
  const session = media.session;
  if (session.sharingScreen) {
    await session.stopScreen();
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
  } catch (err) {
    if (err.name === "NotAllowedError") return; // the user closed the picker
    throw err;
  }
  const [track] = stream.getVideoTracks();
  track.contentHint = "detail";
  // Stopped from the browser's own "Stop sharing" bar.
  track.addEventListener("ended", () => {
    if (media.session?.tracks.screen === track) mediaAction(page.screenButton, () => media.session.stopScreen());
  });
  await session.shareScreen(track);
}

// ---- chat ---------------------------------------------------------------------------------------------

function appendChat(message) {
  if (state.chatIds.has(message.id)) return;
  state.chatIds.add(message.id);
  const list = page.chatMessages;
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const item = el("li", { className: "chat-message", "data-message-id": message.id });
  if (state.self && message.user_id === state.self.user_id) item.classList.add("own");
  if (message.sent_at) item.dataset.sentAt = message.sent_at;
  item.append(el("span", { className: "chat-author" }, message.display_name), `: ${message.text}`);
  list.append(item);
  if (atBottom) list.scrollTop = list.scrollHeight;
}

// ---- controls -----------------------------------------------------------------------------------------

function setHandRaised(raised) {
  state.handRaised = Boolean(raised);
  page.handButton.textContent = state.handRaised ? "Lower hand" : "Raise hand";
}

/** Enables or disables every control that sends something to the classroom (not "Leave classroom"). */
function setControlsEnabled(enabled) {
  state.online = enabled;
  rec?.setOnline(enabled);
  page.handButton.disabled = !enabled;
  for (const control of page.chatForm.elements) control.disabled = !enabled;
  participants.setEnabled(enabled);
}

async function runAction(button, action, successText) {
  button.disabled = true;
  try {
    const ack = await action();
    actionSucceeded();
    if (successText) showMessage(page.status, successText);
    return ack;
  } catch (err) {
    showActionError(err);
    return null;
  } finally {
    button.disabled = !state.online;
  }
}

function setUpControls() {
  page.micButton.addEventListener("click", () =>
    mediaAction(page.micButton, () => media.session.setMuted("audio", !media.session.muted.audio)),
  );
  page.cameraButton.addEventListener("click", () =>
    mediaAction(page.cameraButton, () => media.session.setMuted("video", !media.session.muted.video)),
  );
  page.screenButton.addEventListener("click", () => mediaAction(page.screenButton, toggleScreen));
  page.soundButton.addEventListener("click", () => {
    media.soundBlocked = false;
    page.soundButton.hidden = true;
    showMediaStatus();
    tiles.playAll();
  });

  page.handButton.addEventListener("click", async () => {
    const raised = !state.handRaised;
    const ack = await runAction(page.handButton, () => state.connection.hand(raised));
    if (ack) setHandRaised(raised);
  });

  page.leaveButton.addEventListener("click", async () => {
    page.leaveButton.disabled = true;
    if (state.joined) {
      await stopMedia();
      state.joined = false;
      try {
        await state.connection.leave();
      } catch {
        // Leaving anyway: the server also drops us when the socket closes.
      }
    }
    state.connection.close();
    location.assign("/classrooms");
  });

  page.chatForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = page.chatInput.value.trim();
    if (!text) return;
    const send = page.chatForm.querySelector("button[type=submit]");
    const ack = await runAction(send, () => state.connection.chat(text));
    if (!ack) return;
    page.chatInput.value = "";
    if (ack.message) appendChat(ack.message);
    page.chatInput.focus();
  });
}

// ---- joining ------------------------------------------------------------------------------------------

function applyJoin(ack) {
  const { classroom, chat } = ack;
  state.joined = true;
  state.self = ack.self;
  setClassroom(classroom);
  rec.join(ack);

  participants.reset(ack.self.user_id, ack.rights);
  tiles.reset(ack.self.user_id);
  for (const participant of ack.participants) upsertParticipant(participant);
  if (!participants.get(ack.self.user_id)) upsertParticipant(ack.self);
  setHandRaised(ack.self.hand_raised);

  state.chatIds.clear();
  page.chatMessages.replaceChildren();
  for (const message of chat ?? []) appendChat(message);
  if (ack.limits?.chat_max_length) page.chatInput.maxLength = ack.limits.chat_max_length;

  clearMessage(page.alert);
  page.controls.hidden = false;
  page.live.hidden = false;
  setControlsEnabled(true);
  page.leaveButton.disabled = false;
  renderMediaControls();
}

/** The server re-decided what this person may do here (e.g. made or unmade moderator). */
function applyRights({ self, rights, classroom }) {
  participants.setRights(rights);
  rec.setRights(rights);
  upsertParticipant(self);
  setClassroom(classroom);
}

function joinFailed(err) {
  state.joined = false;
  setControlsEnabled(false);
  rec.leave();
  stopMedia({ notify: false });
  page.media.hidden = true;
  if (err.code === "unauthorized") {
    location.assign(loginUrl());
    return;
  }
  showMessage(page.alert, err.message);
  clearMessage(page.status);
  page.controls.hidden = true;
  page.live.hidden = true;
}

/** The server has taken us out of the classroom: keep the page readable, stop everything that talks. */
function stopParticipating(alertText) {
  state.joined = false;
  stopMedia({ notify: false });
  page.media.hidden = true;
  setControlsEnabled(false);
  rec.leave();
  clearMessage(page.status);
  showMessage(page.alert, alertText);
  state.connection.close();
}

function listen(connection) {
  connection.on("participant_joined", ({ participant, seats_used: seatsUsed }) => {
    upsertParticipant(participant);
    setSeats(seatsUsed);
  });
  connection.on("participant_left", ({ user_id: userId, seats_used: seatsUsed }) => {
    removeParticipant(userId);
    setSeats(seatsUsed);
  });
  connection.on("participant_updated", ({ participant }) => upsertParticipant(participant));
  connection.on("rights_changed", applyRights);
  connection.on("chat", ({ message }) => appendChat(message));
  connection.on("mute_requested", ({ kind, by }) => {
    const who = by?.display_name ?? "A moderator";
    const what = kind === "video" ? "to turn off your camera" : "to mute your microphone";
    showMessage(page.alert, `${who} asks you ${what}.`);
  });
  connection.on("removed", ({ reason }) => stopParticipating(REMOVED_MESSAGES[reason] ?? REMOVED_MESSAGES.removed));
  connection.on("error", ({ message }) => showMessage(page.alert, message));
  connection.on("active_speaker", ({ user_id: userId }) => setSpeaker(userId ?? null));
  connection.on("recording_state", (payload) => rec.recordingState(payload));

  connection.on("connection_lost", () => {
    if (!state.joined) return;
    setControlsEnabled(false);
    for (const button of [page.micButton, page.cameraButton, page.screenButton]) button.disabled = true;
    showMessage(page.status, "Connection lost. Reconnecting…");
  });
  connection.on("rejoined", (ack) => {
    applyJoin(ack);
    showMessage(page.status, "Reconnected.");
    restartMedia();
  });
  connection.on("rejoin_failed", joinFailed);
  connection.on("connect_failed", joinFailed);
}

async function main() {
  const user = await initPage();
  if (!user) return;
  const classroomId = classroomIdFromPath(location.pathname);
  if (classroomId === null) {
    showMessage(page.alert, "This is not a classroom address.");
    return;
  }
  // The name is shown even when joining fails (e.g. the classroom is full).
  getClassroom(classroomId).then(
    (classroom) => {
      if (!state.joined) setClassroom({ name: classroom.name });
    },
    () => {},
  );

  const socket = io(NAMESPACE, { transports: ["websocket"], withCredentials: true });
  state.connection = new ClassroomConnection(socket);
  state.classroomId = classroomId;
  rec = recControls(classroomId);
  listen(state.connection);
  setUpControls();
  try {
    applyJoin(await state.connection.join(classroomId));
  } catch (err) {
    joinFailed(err);
    return;
  }
  await startMedia();
}

main();
