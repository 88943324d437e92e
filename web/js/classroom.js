// Live classroom page (/classrooms/{id}): participants, raised hands, moderation, chat, live media
// (camera and microphone tiles, screen shares) over web/js/media.js, and REC with its consent notice.
import { io } from "/vendor/socket.io.esm.min.js";
import { currentRecording, getClassroom, startRecording, stopRecording } from "/static/js/api.js";
import { MediaSession } from "/static/js/media.js";
import { clearMessage, el, initPage, loginUrl, redirectIfUnauthorized, showMessage } from "/static/js/nav.js";
import { ClassroomConnection, NAMESPACE } from "/static/js/protocol.js";
import {
  elapsedMs,
  formatDuration,
  isActive,
  newerRecording,
  recControl,
  recordingEndMessage,
} from "/static/js/recording.js";

const ROLE_NAMES = { admin: "Admin", teacher: "Teacher", student: "Student" };

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
  recButton: document.getElementById("rec-button"),
  recText: document.querySelector("#rec-button .rec-text"),
  recElapsed: document.querySelector("#rec-button .rec-elapsed"),
  recReason: document.getElementById("rec-reason"),
  leaveButton: document.getElementById("leave-button"),
  recordingBanner: document.getElementById("recording-banner"),
  consentDialog: document.getElementById("consent-dialog"),
  consentText: document.getElementById("consent-text"),
  consentAccept: document.getElementById("consent-accept"),
  consentDecline: document.getElementById("consent-decline"),
  reminderDialog: document.getElementById("reminder-dialog"),
  reminderStart: document.getElementById("reminder-start"),
  reminderDismiss: document.getElementById("reminder-dismiss"),
  participants: document.getElementById("participants"),
  chatMessages: document.getElementById("chat-messages"),
  chatForm: document.getElementById("chat-form"),
  chatInput: document.getElementById("chat-input"),
  media: document.getElementById("media"),
  screens: document.getElementById("screens"),
  tiles: document.getElementById("tiles"),
};

// Enough for a classroom tile; the browser picks the nearest its camera offers.
const CAMERA_CONSTRAINTS = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24 } };
const MIC_LABELS = { on: "Microphone on", muted: "Microphone muted", off: "No microphone" };
const CAMERA_LABELS = { on: "Camera on", muted: "Camera off", off: "No camera" };
const MIC_ICONS = { on: "/static/img/mic.svg", muted: "/static/img/mic-off.svg", off: "/static/img/mic-off.svg" };
const CAMERA_ICONS = {
  on: "/static/img/camera.svg",
  muted: "/static/img/camera-off.svg",
  off: "/static/img/camera-off.svg",
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
  participants: new Map(), // user_id -> {participant, item, tile}
  chatIds: new Set(),
  actionError: null, // the alert text of the last failed action, cleared when an action succeeds
  speaking: null, // user_id of the active speaker
};

/** The classroom's recording as this page knows it, and this person's part in it. */
const rec = {
  recording: null, // the latest Recording seen (join ack, recording_state, REC answers)
  consent: { mode: "notice", text: "" }, // from the join ack
  answers: new Map(), // recording id -> this person's consent answer (mode "ask")
  busy: false, // a start or stop request is on its way
  reminderShown: false, // the reminder is offered once per page
  timer: null, // ticks the elapsed time while recording
  banner: null, // {indicator, notice, declined}: the banner's elements while a recording runs
};

/** This page's own media and what it receives from the others. */
const media = {
  session: null,
  starting: false,
  local: {}, // {microphone, camera}: this participant's capture tracks
  remote: new Map(), // user_id -> {microphone, camera, screen}: tracks received from the server
  screens: new Map(), // user_id -> {figure, video, caption}: the screen shares shown above the tiles
  notice: null, // why we publish less than camera and microphone, shown in the status line
  soundBlocked: false,
  reconnecting: false,
};

function classroomIdFromPath(pathname) {
  const match = /^\/classrooms\/(\d+)\/?$/.exec(pathname);
  return match ? Number(match[1]) : null;
}

function setClassroomName(name) {
  page.name.textContent = name;
  document.title = `Aula — ${name}`;
}

function setSeats(used) {
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

// ---- participants -------------------------------------------------------------------------------------

function canModerate(participant) {
  const self = state.self;
  return Boolean(
    self && self.moderator && participant.user_id !== self.user_id && !participant.moderator && !participant.robot,
  );
}

function participantItem() {
  const item = el("li", { className: "participant" });
  const name = el("span", { className: "participant-name" });
  const badges = el("span", { className: "badges" });
  const mediaState = el(
    "span",
    { className: "media-state" },
    el("img", { className: "media-icon", width: 16, height: 16 }),
    el("img", { className: "media-icon", width: 16, height: 16 }),
  );
  const hand = el("span", { className: "hand", role: "img", "aria-label": "Hand raised", hidden: true }, "✋");
  const actions = el("span", { className: "participant-actions" });
  item.append(name, badges, mediaState, hand, actions);
  return item;
}

function renderParticipant(item, participant) {
  const [name, badges, mediaState, hand, actions] = item.children;
  const isSelf = state.self && participant.user_id === state.self.user_id;
  item.dataset.userId = participant.user_id;
  item.classList.toggle("self", Boolean(isSelf));
  name.replaceChildren(participant.display_name);
  if (isSelf) name.append(el("span", { className: "you" }, " (you)"));

  const badgeTexts = participant.robot ? ["Robot"] : [ROLE_NAMES[participant.role] ?? participant.role];
  if (participant.moderator) badgeTexts.push("Moderator");
  if (participant.recording_consent === false && isActive(rec.recording)) badgeTexts.push("Not recorded");
  badges.replaceChildren(
    ...badgeTexts.map((text) =>
      el("span", { className: `badge badge-${text.toLowerCase().replace(/\s+/g, "-")}` }, text),
    ),
  );
  hand.hidden = !participant.hand_raised;
  mediaState.hidden = Boolean(participant.robot); // it only listens and watches
  const [mic, camera] = mediaState.children;
  const micNow = micState(participant);
  const cameraNow = cameraState(participant);
  setIcon(mic, MIC_LABELS[micNow], MIC_ICONS[micNow], micNow);
  setIcon(camera, CAMERA_LABELS[cameraNow], CAMERA_ICONS[cameraNow], cameraNow);
  item.dataset.speaking = String(participant.user_id === state.speaking);

  // Rebuilding the buttons would drop keyboard focus; they only change when moderation rights do.
  const wantActions = canModerate(participant);
  if (wantActions && actions.childElementCount === 0) {
    actions.append(...moderatorButtons(participant.user_id));
  } else if (!wantActions) {
    actions.replaceChildren();
  }
  const [mute, remove] = actions.children;
  if (mute) mute.textContent = `Ask ${participant.display_name} to mute`;
  if (remove) remove.textContent = `Remove ${participant.display_name}`;
}

function moderatorButtons(userId) {
  const mute = el("button", { type: "button", className: "small secondary" });
  const remove = el("button", { type: "button", className: "small danger" });
  const displayName = () => state.participants.get(userId)?.participant.display_name ?? "";
  mute.addEventListener("click", () =>
    runAction(mute, () => state.connection.muteRequest(userId, "audio"), `Asked ${displayName()} to mute.`),
  );
  remove.addEventListener("click", () =>
    runAction(remove, () => state.connection.remove(userId), `Removed ${displayName()}.`),
  );
  return [mute, remove];
}

function upsertParticipant(participant) {
  let entry = state.participants.get(participant.user_id);
  if (!entry) {
    entry = { participant, item: participantItem() };
    state.participants.set(participant.user_id, entry);
    page.participants.append(entry.item);
  }
  entry.participant = participant;
  if (state.self && participant.user_id === state.self.user_id) {
    state.self = participant;
    setHandRaised(participant.hand_raised);
  }
  renderParticipant(entry.item, participant);
  // The recorder robot sends no media: it is listed, never shown as a tile.
  if (!entry.tile && !participant.robot) {
    entry.tile = createTile(participant.user_id);
    page.tiles.append(entry.tile.figure);
  }
  renderTile(participant.user_id);
}

function removeParticipant(userId) {
  const entry = state.participants.get(userId);
  if (!entry) return;
  entry.item.remove();
  entry.tile?.figure.remove();
  state.participants.delete(userId);
  renderScreen(userId, null);
}

// ---- media tiles ------------------------------------------------------------------------------------

function isSelf(userId) {
  return Boolean(state.self) && userId === state.self.user_id;
}

/** "on", "muted" or "off" (not published), as the server tells everyone. */
function micState(participant) {
  if (!(participant.publishing ?? []).includes("microphone")) return "off";
  return participant.audio_muted ? "muted" : "on";
}

function cameraState(participant) {
  if (!(participant.publishing ?? []).includes("camera")) return "off";
  return participant.video_muted ? "muted" : "on";
}

/** Our own tile follows the local state at once rather than the server's echo. */
function localState(source, kind) {
  if (!media.local[source] || !media.session?.active) return "off";
  return media.session.muted[kind] ? "muted" : "on";
}

function setIcon(icon, label, src, value) {
  icon.alt = label;
  if (icon.getAttribute("src") !== src) icon.src = src;
  icon.dataset.state = value;
}

function createTile(userId) {
  const video = el("video", { autoplay: true, playsInline: true, muted: true, hidden: true });
  // The camera's video element stays muted: the microphone plays through its own <audio>, so someone
  // with a microphone and no camera is heard too. Our own tile has no <audio>: no echo of ourselves.
  const audio = isSelf(userId) ? null : el("audio", { autoplay: true });
  const placeholder = el("span", { className: "tile-placeholder", "aria-hidden": "true" });
  const mic = el("img", { className: "tile-indicator", width: 18, height: 18, hidden: true });
  const camera = el("img", { className: "tile-indicator", width: 18, height: 18, hidden: true });
  const caption = el("figcaption");
  const figure = el(
    "figure",
    { className: "tile", "data-user-id": userId },
    placeholder,
    video,
    el("span", { className: "tile-indicators" }, mic, camera),
    caption,
  );
  if (audio) figure.append(audio);
  return { figure, video, audio, placeholder, mic, camera, caption };
}

/** Brings one participant's tile (and screen share) up to date with their state and tracks. */
function renderTile(userId) {
  const entry = state.participants.get(userId);
  if (!entry?.tile) return;
  const { participant, tile } = entry;
  const self = isSelf(userId);
  tile.figure.classList.toggle("self", self);
  tile.caption.textContent = self ? `${participant.display_name} (you)` : participant.display_name;
  tile.placeholder.textContent = initials(participant.display_name);

  const mic = self ? localState("microphone", "audio") : micState(participant);
  const camera = self ? localState("camera", "video") : cameraState(participant);
  const micLabel = mic === "muted" ? MIC_LABELS.muted : MIC_LABELS.off;
  setIcon(tile.mic, micLabel, MIC_ICONS[mic], mic);
  const cameraLabel = camera === "muted" ? CAMERA_LABELS.muted : CAMERA_LABELS.off;
  setIcon(tile.camera, cameraLabel, CAMERA_ICONS[camera], camera);
  tile.mic.hidden = mic === "on";
  tile.camera.hidden = camera === "on";

  const tracks = self ? media.local : (media.remote.get(userId) ?? {});
  setTrack(tile.video, tracks.camera);
  tile.video.hidden = !tracks.camera || camera !== "on";
  tile.placeholder.hidden = !tile.video.hidden;
  if (tile.audio) setTrack(tile.audio, tracks.microphone);

  const speaking = userId === state.speaking;
  tile.figure.classList.toggle("speaking", speaking);
  tile.figure.dataset.speaking = String(speaking);

  const sharing = self ? media.session?.sharingScreen : participant.screen_sharing;
  const screen = self ? media.session?.tracks.screen : tracks.screen;
  renderScreen(userId, sharing && screen ? screen : null);
}

function initials(name) {
  return (name ?? "")
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((word) => word[0].toUpperCase())
    .join("");
}

/** Shows `track` as the participant's screen share above the tiles, or removes it (null). */
function renderScreen(userId, track) {
  let screen = media.screens.get(userId);
  if (!track) {
    if (screen) {
      screen.video.srcObject = null;
      screen.figure.remove();
      media.screens.delete(userId);
    }
    page.screens.hidden = media.screens.size === 0;
    return;
  }
  if (!screen) {
    const video = el("video", { autoplay: true, playsInline: true, muted: true });
    const caption = el("figcaption");
    const figure = el("figure", { className: "tile screen", "data-user-id": userId }, video, caption);
    screen = { figure, video, caption };
    media.screens.set(userId, screen);
    page.screens.append(screen.figure);
  }
  const name = state.participants.get(userId)?.participant.display_name ?? "";
  screen.caption.textContent = isSelf(userId) ? "Your screen" : `${name}'s screen`;
  setTrack(screen.video, track);
  page.screens.hidden = false;
}

/** Plays `track` in a <video> or <audio> element (nothing if missing); leaves what already plays alone. */
function setTrack(element, track) {
  const current = element.srcObject?.getTracks()[0] ?? null;
  if (current === (track ?? null)) return;
  element.srcObject = track ? new MediaStream([track]) : null;
  if (track) play(element);
}

function play(element) {
  element.play().catch((err) => {
    // Browsers may refuse to play sound before the user has interacted with the page.
    if (err.name === "NotAllowedError" && element instanceof HTMLAudioElement) soundWasBlocked();
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
  for (const id of [previous, userId]) {
    const entry = state.participants.get(id);
    if (!entry) continue;
    entry.item.dataset.speaking = String(id === userId);
    renderTile(id);
  }
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

// ---- recording ----------------------------------------------------------------------------------------

/** Takes a newer description of the classroom's recording (stale ones are ignored); `reason` as sent. */
function updateRecording(incoming, reason = null) {
  const previous = rec.recording;
  const current = newerRecording(previous, incoming);
  if (current === previous) return;
  if (current && current.id !== previous?.id) {
    // The server asks everyone anew for each recording; earlier answers are not carried over.
    for (const entry of state.participants.values()) entry.participant.recording_consent = null;
    if (state.self) state.self.recording_consent = null;
  }
  rec.recording = current;
  renderRecording(isActive(previous));
  if (isActive(previous) && previous.id === current.id) {
    const message = recordingEndMessage(current, reason);
    if (message?.alert) showMessage(page.alert, message.text);
    else if (message) showMessage(page.status, message.text);
  }
}

/** The join ack says what runs now: it replaces whatever this page knew (e.g. after a reconnect). */
function replaceRecording(recording) {
  const wasActive = isActive(rec.recording);
  rec.recording = recording ?? null;
  renderRecording(wasActive);
}

function renderRecording(wasActive) {
  const active = isActive(rec.recording);
  renderBanner();
  renderRecButton();
  if (active && rec.timer === null) rec.timer = setInterval(renderRecButton, 1000);
  if (!active && rec.timer !== null) {
    clearInterval(rec.timer);
    rec.timer = null;
  }
  if (active) closeDialog(page.reminderDialog);
  if (active !== wasActive) {
    for (const { item, participant } of state.participants.values()) renderParticipant(item, participant);
  }
  considerConsent();
}

/** The persistent "Recording" indicator and the consent notice, while a recording runs. */
function renderBanner() {
  const active = isActive(rec.recording);
  if (!active) {
    if (rec.banner) page.recordingBanner.replaceChildren();
    rec.banner = null;
    return;
  }
  if (!rec.banner) {
    const indicator = el(
      "p",
      { id: "recording-indicator", className: "recording-indicator" },
      el("span", { className: "rec-dot", "aria-hidden": "true" }),
      "Recording",
    );
    const notice = el("p", { id: "recording-notice", className: "recording-notice" });
    const declined = el("p", { id: "recording-declined", className: "recording-declined", hidden: true });
    declined.textContent = "You are not in the recording.";
    rec.banner = { indicator, notice, declined };
    page.recordingBanner.replaceChildren(indicator, notice, declined);
  }
  const text = rec.consent.text || "This class is being recorded.";
  if (rec.banner.notice.textContent !== text) rec.banner.notice.textContent = text;
  rec.banner.declined.hidden = rec.answers.get(rec.recording.id) !== false;
}

function renderRecButton() {
  const button = page.recButton;
  const control = recControl(rec.recording, state.self);
  // Only moderators can record; the others learn of a recording from the indicator.
  const shown = Boolean(state.self?.moderator);
  button.hidden = !shown;
  if (!shown) {
    showMessage(page.recReason, "");
    return;
  }
  const active = isActive(rec.recording);
  const elapsed = active ? formatDuration(elapsedMs(rec.recording)) : "";
  button.setAttribute("aria-label", elapsed ? `${control.label} (${elapsed})` : control.label);
  button.classList.toggle("recording", active);
  page.recText.textContent = active ? "Stop REC" : "REC";
  page.recElapsed.textContent = elapsed;
  page.recElapsed.hidden = !elapsed;
  button.disabled = !state.online || rec.busy || control.action === null;
  button.dataset.action = control.action ?? "";
  showMessage(page.recReason, control.reason);
}

async function pressRec() {
  const action = recControl(rec.recording, state.self).action;
  if (action === "start") await startRec();
  else if (action === "stop") await stopRec();
}

async function startRec() {
  rec.busy = true;
  renderRecButton();
  try {
    updateRecording(await startRecording(state.classroomId));
    actionSucceeded();
  } catch (err) {
    if (redirectIfUnauthorized(err)) return;
    showActionError(err);
    // Someone else was quicker: show who is recording.
    if (err.code === "recording_active") refreshRecording();
  } finally {
    rec.busy = false;
    renderRecButton();
  }
}

async function stopRec() {
  rec.busy = true;
  renderRecButton();
  try {
    updateRecording(await stopRecording(state.classroomId), "stopped");
    actionSucceeded();
  } catch (err) {
    if (redirectIfUnauthorized(err)) return;
    showActionError(err);
    refreshRecording();
  } finally {
    rec.busy = false;
    renderRecButton();
  }
}

/** Asks the server what runs now, after an answer that says this page is behind. */
function refreshRecording() {
  currentRecording(state.classroomId).then(
    (recording) => (recording ? updateRecording(recording) : replaceRecording(null)),
    () => {},
  );
}

/** With consent mode "ask", everyone answers once per recording (again after a reconnect, unasked). */
function considerConsent() {
  const recording = rec.recording;
  const asking = rec.consent.mode === "ask" && state.joined && isActive(recording) && recording.state !== "finishing";
  if (!asking) {
    closeDialog(page.consentDialog);
    return;
  }
  // The server may already hold this person's answer (it says so in their participant).
  const known = state.self?.recording_consent;
  if (!rec.answers.has(recording.id) && typeof known === "boolean") {
    rec.answers.set(recording.id, known);
    renderBanner();
  }
  if (rec.answers.has(recording.id)) {
    const answer = rec.answers.get(recording.id);
    // A reconnect makes a new participant on the server, which has not heard our answer yet.
    if (state.self && state.self.recording_consent !== answer) sendConsent(answer);
    return;
  }
  if (page.consentDialog.open) return;
  page.consentDialog.dataset.recordingId = recording.id;
  page.consentText.textContent = rec.consent.text;
  page.consentDialog.showModal();
}

function answerConsent(accepted) {
  const recordingId = Number(page.consentDialog.dataset.recordingId);
  closeDialog(page.consentDialog);
  if (!isActive(rec.recording) || rec.recording.id !== recordingId) return;
  rec.answers.set(recordingId, accepted);
  renderBanner();
  sendConsent(accepted);
}

async function sendConsent(accepted) {
  try {
    await state.connection.recordingConsent(accepted);
    if (state.self) state.self.recording_consent = accepted;
    actionSucceeded();
  } catch (err) {
    // Kept in rec.answers: sent again when the classroom is joined again.
    if (err.code !== "not_found") showActionError(err);
  }
}

/** A moderator with the reminder on enters a classroom that is not recording: offer REC, once. */
function considerReminder(ack) {
  if (!ack.reminder || rec.reminderShown || isActive(rec.recording) || !state.self?.moderator) return;
  rec.reminderShown = true;
  page.reminderDialog.showModal();
}

function closeDialog(dialog) {
  if (dialog.open) dialog.close();
}

function setUpRecording() {
  page.recButton.addEventListener("click", pressRec);
  page.consentAccept.addEventListener("click", () => answerConsent(true));
  page.consentDecline.addEventListener("click", () => answerConsent(false));
  // Escape does not answer the consent question; each person says yes or no.
  page.consentDialog.addEventListener("cancel", (event) => event.preventDefault());
  page.reminderStart.addEventListener("click", () => {
    closeDialog(page.reminderDialog);
    if (recControl(rec.recording, state.self).action === "start") startRec();
  });
  page.reminderDismiss.addEventListener("click", () => closeDialog(page.reminderDialog));
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
  renderRecButton();
  page.handButton.disabled = !enabled;
  for (const control of page.chatForm.elements) control.disabled = !enabled;
  for (const button of page.participants.querySelectorAll("button")) button.disabled = !enabled;
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
    button.disabled = !state.joined;
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
    for (const element of document.querySelectorAll("#media audio, #media video")) {
      if (element.srcObject) play(element);
    }
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
  const { classroom, participants, chat } = ack;
  state.joined = true;
  state.self = ack.self;
  state.seatLimit = classroom.seat_limit;
  setClassroomName(classroom.name);
  // The participants are the server's latest word at the ack (classroom.seats_used may be older when others
  // join at the same moment, and their participant_joined came before we were in the room): seated ones
  // are everyone but the robot.
  setSeats(participants.length ? participants.filter((p) => !p.robot).length : classroom.seats_used);

  state.participants.clear();
  page.participants.replaceChildren();
  page.tiles.replaceChildren();
  for (const userId of [...media.screens.keys()]) renderScreen(userId, null);
  for (const participant of participants) upsertParticipant(participant);
  if (!state.participants.has(ack.self.user_id)) upsertParticipant(ack.self);
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

  if (ack.consent) rec.consent = ack.consent;
  replaceRecording(ack.recording);
  considerReminder(ack);
}

function joinFailed(err) {
  state.joined = false;
  setControlsEnabled(false);
  closeDialog(page.consentDialog);
  closeDialog(page.reminderDialog);
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
  closeDialog(page.consentDialog);
  closeDialog(page.reminderDialog);
  clearMessage(page.status);
  showMessage(page.alert, alertText);
  state.connection.close();
}

function listen(connection) {
  connection.on("participant_joined", ({ participant, seats_used: seatsUsed }) => {
    upsertParticipant(participant);
    if (state.seatLimit !== null) setSeats(seatsUsed);
  });
  connection.on("participant_left", ({ user_id: userId, seats_used: seatsUsed }) => {
    removeParticipant(userId);
    if (state.seatLimit !== null) setSeats(seatsUsed);
  });
  connection.on("participant_updated", ({ participant }) => upsertParticipant(participant));
  connection.on("chat", ({ message }) => appendChat(message));
  connection.on("mute_requested", ({ kind, by }) => {
    const who = by?.display_name ?? "A moderator";
    const what = kind === "video" ? "to turn off your camera" : "to mute your microphone";
    showMessage(page.alert, `${who} asks you ${what}.`);
  });
  connection.on("removed", ({ reason }) => {
    stopParticipating(
      reason === "joined_elsewhere"
        ? "You joined this classroom from another window."
        : "You were removed from the classroom.",
    );
  });
  connection.on("error", ({ message }) => showMessage(page.alert, message));
  connection.on("active_speaker", ({ user_id: userId }) => setSpeaker(userId ?? null));
  connection.on("recording_state", ({ recording, reason }) => updateRecording(recording, reason ?? null));

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
      if (!state.joined) setClassroomName(classroom.name);
    },
    () => {},
  );

  const socket = io(NAMESPACE, { transports: ["websocket"], withCredentials: true });
  state.connection = new ClassroomConnection(socket);
  state.classroomId = classroomId;
  listen(state.connection);
  setUpControls();
  setUpRecording();
  try {
    applyJoin(await state.connection.join(classroomId));
  } catch (err) {
    joinFailed(err);
    return;
  }
  await startMedia();
}

main();
