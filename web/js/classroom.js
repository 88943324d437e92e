// Live classroom page (/classrooms/{id}): joins the classroom and wires its parts together: the
// participant list (web/js/participants.js), the video tiles (web/js/tiles.js) over this page's media
// session (web/js/media.js) on the stage (web/js/stage.js), REC (web/js/rec_controls.js), chat, the
// pre-join check (web/js/prejoin.js), device switching (web/js/devices.js), connection health
// (web/js/health.js) and the toolbar.
import { io } from "/vendor/socket.io.esm.min.js";
import { getClassroom } from "/static/js/api.js";
import { captureProblem, captureTrack, DeviceMenu, deviceOf } from "/static/js/devices.js";
import { HEALTH_MESSAGES, MediaHealth } from "/static/js/health.js";
import { MediaSession } from "/static/js/media.js";
import { cameraState, micState } from "/static/js/media_state.js";
import { ChatPanel } from "/static/js/chat.js";
import { HandQueuePanel, handJustRaised } from "/static/js/hand_queue.js";
import { initPage, loginUrl, redirectIfUnauthorized } from "/static/js/nav.js";
import { Notices } from "/static/js/notices.js";
import { ParticipantList, mayPublish } from "/static/js/participants.js";
import { PreJoin } from "/static/js/prejoin.js";
import { ClassroomConnection, NAMESPACE, SERVER_EVENTS } from "/static/js/protocol.js";
import { RecControls } from "/static/js/rec_controls.js";
import { ReplayControls } from "/static/js/replay_controls.js";
import { Stage } from "/static/js/stage.js";
import { TileGrid } from "/static/js/tiles.js";

const page = {
  name: document.getElementById("classroom-name"),
  seats: document.getElementById("seats"),
  ended: document.getElementById("ended"),
  endedText: document.getElementById("ended-text"),
  endedHeading: document.getElementById("ended-heading"),
  retryButton: document.getElementById("retry-button"),
  controls: document.getElementById("controls"),
  live: document.getElementById("live"),
  micButton: document.getElementById("mic-button"),
  cameraButton: document.getElementById("camera-button"),
  screenButton: document.getElementById("screen-button"),
  soundButton: document.getElementById("sound-button"),
  handButton: document.getElementById("hand-button"),
  leaveButton: document.getElementById("leave-button"),
  participants: document.getElementById("participants"),
  media: document.getElementById("media"),
  body: document.getElementById("classroom-body"),
  layoutButton: document.getElementById("layout-button"),
  panelButton: document.getElementById("panel-button"),
  fullScreenButton: document.getElementById("fullscreen-button"),
  health: document.getElementById("health"),
  healthText: document.getElementById("health-text"),
  reconnectButton: document.getElementById("reconnect-button"),
};

// Below this width the side panel is a sheet over the stage, closed at first.
const NARROW = "(max-width: 48rem)";

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
  devices: { camera: null, microphone: null }, // the devices chosen (before joining, or in the menu)
  wanted: { camera: true, microphone: true }, // whether the person wants each on (chosen before joining)
  available: { camera: true, microphone: true }, // whether the browser offers each at all
  fromPrejoin: false, // media.local holds the pre-join check's tracks, not yet published
  health: null, // MediaHealth of the session
  trouble: false, // the media connection failed or went silent and has not recovered yet
};

// The page's notices (web/js/notices.js): information clears itself, errors stay until dismissed.
const notices = new Notices(document.getElementById("notices"), { fallbackFocus: page.name });
// Notice keys: a newer notice of the same key replaces the older one.
const NOTICE = { action: "action-error", connection: "connection", media: "media-status", sound: "sound" };

const participants = new ParticipantList(page.participants, {
  onMute: (userId, button) => {
    const name = participants.displayName(userId);
    runAction(button, () => state.connection.muteRequest(userId, "audio"), `Asked ${name} to mute.`);
  },
  onRemove: (userId, button) => confirmRemoval(userId, button),
  onMediaPermission: (userId, source, allowed, button) => {
    const name = participants.displayName(userId);
    const done = `${name} ${allowed ? "may use" : "may not use"} their ${source} now.`;
    runAction(button, () => state.connection.mediaPermission(userId, source, allowed), done);
  },
});

const hands = new HandQueuePanel(
  {
    section: document.getElementById("hand-queue"),
    list: document.getElementById("hand-queue-list"),
    lowerAll: document.getElementById("lower-all-hands"),
  },
  {
    onLower: (userId, button) => {
      const done = userId === null ? "Lowered every hand." : `Lowered ${participants.displayName(userId)}'s hand.`;
      runAction(button, () => state.connection.lowerHand(userId), done);
    },
  },
);

// What this page last asked for its own hand: a hand that goes down while we wanted it up was lowered by
// a moderator (the update may come before or after our own request's answer).
let ownHandWanted = null;

const chat = new ChatPanel(
  {
    log: document.getElementById("chat-log"),
    list: document.getElementById("chat-messages"),
    form: document.getElementById("chat-form"),
    input: document.getElementById("chat-input"),
    counter: document.getElementById("chat-count"),
    error: document.getElementById("chat-error"),
  },
  {
    send: async (text) => {
      const ack = await state.connection.chat(text);
      actionSucceeded();
      return ack;
    },
    onError: (err) => showActionError(err),
  },
);

const removeDialog = {
  dialog: document.getElementById("remove-dialog"),
  text: document.getElementById("remove-text"),
  confirm: document.getElementById("remove-confirm"),
  cancel: document.getElementById("remove-cancel"),
  userId: null,
  button: null,
};

/** Removal asks first: it takes the participant out at once, in the middle of the class. */
function confirmRemoval(userId, button) {
  const name = participants.displayName(userId);
  removeDialog.userId = userId;
  removeDialog.button = button;
  removeDialog.text.textContent = `${name} leaves the classroom at once and sees that they were removed.`;
  removeDialog.confirm.textContent = `Remove ${name}`;
  removeDialog.dialog.showModal();
  removeDialog.cancel.focus();
}

function setUpRemoveDialog() {
  const { dialog, confirm, cancel } = removeDialog;
  cancel.addEventListener("click", () => dialog.close("cancel"));
  confirm.addEventListener("click", () => dialog.close("remove"));
  dialog.addEventListener("close", () => {
    const { userId, button } = removeDialog;
    removeDialog.userId = null;
    if (userId === null) return;
    if (dialog.returnValue === "remove") {
      const name = participants.displayName(userId);
      runAction(button, () => state.connection.remove(userId), `Removed ${name}.`);
    } else if (button?.isConnected) {
      button.focus();
    }
    dialog.returnValue = "";
  });
}

const stage = new Stage(
  {
    stage: page.media,
    main: document.getElementById("stage-main"),
    strip: document.getElementById("stage-strip"),
    tiles: document.getElementById("tiles"),
    screens: document.getElementById("screens"),
  },
  { onChange: stageChanged },
);

const tiles = new TileGrid(
  { tiles: document.getElementById("tiles"), screens: document.getElementById("screens") },
  {
    onSoundBlocked: soundWasBlocked,
    onPin: (key) => stage.togglePin(key),
    onFullScreen: (figure) => toggleFullScreen(figure),
    onChange: () => stage.arrange(),
  },
);

const prejoin = new PreJoin({
  section: document.getElementById("prejoin"),
  video: document.getElementById("prejoin-video"),
  noCamera: document.getElementById("prejoin-no-camera"),
  cameraOn: document.getElementById("prejoin-camera-on"),
  camera: document.getElementById("prejoin-camera"),
  micOn: document.getElementById("prejoin-mic-on"),
  microphone: document.getElementById("prejoin-mic"),
  level: document.getElementById("prejoin-level"),
  problem: document.getElementById("prejoin-problem"),
  join: document.getElementById("join-button"),
  seats: document.getElementById("prejoin-seats"),
  cameraDenied: document.getElementById("prejoin-camera-denied"),
  micDenied: document.getElementById("prejoin-mic-denied"),
});

const deviceMenu = new DeviceMenu(
  {
    button: document.getElementById("devices-button"),
    menu: document.getElementById("devices-menu"),
    camera: document.getElementById("camera-select"),
    microphone: document.getElementById("mic-select"),
    problem: document.getElementById("devices-problem"),
    close: document.getElementById("devices-close"),
  },
  {
    onSwitch: switchDevice,
    current: () => ({
      camera: deviceOf(media.local.camera) || media.devices.camera,
      microphone: deviceOf(media.local.microphone) || media.devices.microphone,
    }),
  },
);

let rec = null; // RecControls, made once the classroom is known
let replay = null; // ReplayControls, made once the classroom is known
let replayUserId = null; // the replay's participant, while one is in the classroom

function replayControls(classroomId) {
  const byId = (id) => document.getElementById(id);
  return new ReplayControls(
    {
      banner: byId("replay-banner"),
      section: byId("replay-section"),
      form: byId("replay-form"),
      recording: byId("replay-recording"),
      chapter: byId("replay-chapter"),
      loop: byId("replay-loop"),
      start: byId("replay-start"),
      pause: byId("replay-pause"),
      stop: byId("replay-stop"),
      error: byId("replay-error"),
    },
    { classroomId, onChange: lockToReplay },
  );
}

/** While a replay plays, the stage shows its tile and the layout controls are locked (web/js/stage.js). */
function lockToReplay() {
  const playing = Boolean(replay?.current);
  const key = playing ? (replayUserId !== null ? `user:${replayUserId}` : true) : null;
  if (stage.locked !== key) stage.lock(key);
}

function recControls(classroomId) {
  const byId = (id) => document.getElementById(id);
  return new RecControls(
    {
      button: byId("rec-button"),
      text: document.querySelector("#rec-button .rec-text"),
      elapsed: document.querySelector("#rec-button .rec-elapsed"),
      reason: byId("rec-reason"),
      banner: byId("recording-banner"),
      warning: byId("rec-warning"),
      consentDialog: byId("consent-dialog"),
      consentText: byId("consent-text"),
      consentAccept: byId("consent-accept"),
      consentDecline: byId("consent-decline"),
      reminderDialog: byId("reminder-dialog"),
      reminderStart: byId("reminder-start"),
      reminderDismiss: byId("reminder-dismiss"),
      tools: byId("rec-tools"),
      codesPick: byId("rec-codes-pick"),
      codesSelect: byId("rec-codes-list"),
      modePick: byId("rec-mode-pick"),
      modeSelect: byId("rec-mode"),
      sessionDialog: byId("rec-session-dialog"),
      sessionText: byId("rec-session-text"),
      sessionClassrooms: byId("rec-session-classrooms"),
      sessionStop: byId("rec-session-stop"),
      sessionCancel: byId("rec-session-cancel"),
      pauseButton: byId("rec-pause-button"),
      nameDialog: byId("rec-name-dialog"),
      nameForm: byId("rec-name-form"),
      nameInput: byId("rec-name-input"),
      nameError: byId("rec-name-error"),
      nameCancel: byId("rec-name-cancel"),
      bookmarks: {
        button: byId("bookmark-button"),
        codes: byId("rec-codes"),
        dialog: byId("bookmark-dialog"),
        form: byId("bookmark-form"),
        remark: byId("bookmark-remark"),
        error: byId("bookmark-error"),
        cancel: byId("bookmark-cancel"),
      },
    },
    {
      connection: state.connection,
      classroomId,
      onError: (err) => redirectIfUnauthorized(err) || showActionError(err),
      onSuccess: actionSucceeded,
      onMessage: ({ text, alert }) => notices.show(text, { kind: alert ? "error" : "info", key: "recording" }),
      onActiveChanged: (active) => participants.setRecordingActive(active),
      onNewRecording: () => participants.forgetConsent(),
      onNotice: ({ text, kind, key, timeoutMs }) => notices.show(text, { kind, key, timeoutMs }),
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
  page.seats.textContent = `Student seats: ${used} / ${state.seatLimit}`;
  page.seats.hidden = false;
}

/**
 * A failed action stays on the page until dismissed or until an action succeeds. A refusal comes twice (the
 * ack and the `error` event): both show as this one notice.
 */
/** Client events whose refusals their caller handles without troubling the user. */
const SELF_HANDLED_ERRORS = new Set(["media_candidate", "media_answer"]);

function showActionError(err) {
  notices.error(forPeople(err), { key: NOTICE.action });
}

// A moderator's refusal of a source, in the words of the person refused.
const REFUSED_SOURCES = {
  microphone: "The moderator has not allowed you to use your microphone.",
  camera: "The moderator has not allowed you to use your camera.",
  screen: "The moderator has not allowed you to share your screen.",
};

/** The server's message as a sentence for people. */
function forPeople(err) {
  const message = String(err?.message ?? "").trim();
  const refused = /has not allowed your (microphone|camera|screen)/.exec(message);
  if (refused) return REFUSED_SOURCES[refused[1]];
  if (!message) return "That did not work. Please try again.";
  const sentence = message[0].toUpperCase() + message.slice(1);
  return /[.!?…]$/.test(sentence) ? sentence : `${sentence}.`;
}

function actionSucceeded() {
  notices.dismiss(NOTICE.action);
}

// ---- participants and their tiles -------------------------------------------------------------------

function isSelf(userId) {
  return Boolean(state.self) && userId === state.self.user_id;
}

function upsertParticipant(participant, { announce = false } = {}) {
  const before = participants.get(participant.user_id);
  participants.upsert(participant);
  if (isSelf(participant.user_id)) {
    const previous = state.self;
    state.self = participant;
    setHandRaised(participant.hand_raised);
    rec?.setSelf(participant);
    media.health?.serverSays(participant.media_health);
    followMediaRights(previous, participant);
    if (announce && previous?.hand_raised && !participant.hand_raised && ownHandWanted !== false) {
      notices.info("A moderator lowered your hand.", { key: "hand-self" });
    }
  } else if (announce && participants.rights.can_moderate && handJustRaised(before, participant)) {
    notices.info(`${participant.display_name} raised a hand.`, { key: `hand-${participant.user_id}` });
  }
  renderHands();
  renderTile(participant.user_id);
  if (participant.replay && replayUserId !== participant.user_id) {
    replayUserId = participant.user_id;
    lockToReplay();
  }
}

function removeParticipant(userId) {
  participants.remove(userId);
  tiles.remove(userId);
  renderHands();
  if (userId === replayUserId) {
    replayUserId = null;
    lockToReplay();
  }
}

function renderHands() {
  hands.render(participants.participants(), {
    canModerate: participants.rights.can_moderate,
    selfId: state.self?.user_id ?? null,
  });
}

/**
 * The server changed which sources we may send (`may_publish`): stop sending what was withdrawn (the SFU has
 * already stopped forwarding it) and send again what is allowed again, by joining media with the new list.
 */
async function followMediaRights(previous, self) {
  const session = media.session;
  if (!previous || !session?.active || !self.may_publish) return;
  const changed = ["microphone", "camera", "screen"].filter(
    (source) => mayPublish(previous, source) !== mayPublish(self, source),
  );
  if (changed.length === 0) return;
  for (const source of changed) {
    if (mayPublish(self, source)) notices.info(`A moderator allowed ${RIGHT_NAMES[source]}.`, { key: `right-${source}` });
    else sayNotAllowed(source);
  }
  try {
    if (session.sharingScreen && !mayPublish(self, "screen")) await session.stopScreen();
    // A withdrawn camera or microphone is closed (its light goes off); allowed again, it is opened again
    // if the person had it on.
    for (const source of ["microphone", "camera"]) {
      if (!mayPublish(self, source)) {
        dropLocal(source);
      } else if (!media.local[source] && media.wanted[source] && media.available[source]) {
        const track = await captureTrack(source, media.devices[source]);
        if (!media.session?.active || !mayPublish(state.self, source)) {
          track.stop();
          continue;
        }
        track.enabled = !session.muted[source === "camera" ? "video" : "audio"];
        media.local[source] = track;
      }
    }
    const wanted = ["microphone", "camera"].filter((source) => media.local[source] && mayPublish(self, source));
    if (wanted.join() !== session.publish.join()) {
      for (const source of wanted) session.tracks[source] = media.local[source];
      session.publish = wanted;
      await session.restart();
    }
  } catch (err) {
    showActionError(err);
  } finally {
    renderMediaControls();
    renderTile(self.user_id);
  }
}

/** Closes our camera or microphone (a moderator withdrew it): nothing of it is captured any more. */
function dropLocal(source) {
  const track = media.local[source];
  if (!track) return;
  delete media.local[source];
  const session = media.session;
  if (session?.tracks[source] === track) delete session.tracks[source];
  track.stop();
}

const RIGHT_NAMES = { microphone: "your microphone", camera: "your camera", screen: "sharing your screen" };

/** Says why a source is not sent; it stays until dismissed or the source is allowed. */
function sayNotAllowed(source) {
  notices.warning(`A moderator has not allowed ${RIGHT_NAMES[source]}.`, { key: `right-${source}` });
}

/**
 * The capture tracks this participant may publish now (the server refuses the others at media_join); the
 * page says which of its devices are left out.
 */
function allowedTracks(tracks) {
  const self = state.self;
  if (!self?.may_publish) return tracks;
  const allowed = Object.entries(tracks).filter(([source]) => mayPublish(self, source));
  for (const source of Object.keys(tracks)) {
    if (tracks[source] && !mayPublish(self, source)) {
      sayNotAllowed(source);
      if (media.local[source] === tracks[source]) dropLocal(source);
    }
  }
  return Object.fromEntries(allowed);
}

/** Our own tile follows the local state at once rather than the server's echo. */
function localState(source, kind) {
  if (!media.local[source] || !media.session?.active || !mayOwn(source)) return "off";
  return media.session.muted[kind] ? "muted" : "on";
}

/** Brings one participant's tile (and screen share) up to date with their state and tracks. */
function renderTile(userId) {
  const participant = participants.get(userId);
  if (!participant) return;
  const self = isSelf(userId);
  const tracks = self ? ownTracks() : (media.remote.get(userId) ?? {});
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

/** Whether we may send `source` now (true until the server has said who we are). */
function mayOwn(source) {
  return !state.self || mayPublish(state.self, source);
}

/** What our own tile plays: only what we may send (a withdrawn camera is not shown as if it were seen). */
function ownTracks() {
  return Object.fromEntries(Object.entries(media.local).filter(([source, track]) => track && mayOwn(source)));
}

// ---- stage and toolbar ----------------------------------------------------------------------------------

/**
 * A toolbar button's visible text (its accessible name), optionally its icon, and a visually hidden end of
 * its name (`more`), also shown as its tooltip.
 */
function setTool(button, label, icon = null, more = "") {
  const text = button.querySelector(".tool-label");
  if (text.textContent !== label + more) {
    text.replaceChildren(label);
    if (more) text.append(Object.assign(document.createElement("span"), { className: "visually-hidden", textContent: more }));
  }
  if (more) button.title = label + more;
  else button.removeAttribute("title");
  if (icon) button.querySelector(".icon").className = `icon icon-${icon}`;
}

function stageChanged({ layout, pinned, locked }) {
  page.layoutButton.setAttribute("aria-pressed", String(layout === "grid"));
  page.layoutButton.disabled = Boolean(locked);
  if (locked) page.layoutButton.title = "The layout follows the replay while it plays";
  else page.layoutButton.removeAttribute("title");
  tiles.setPinned(pinned);
}

function setPanelOpen(open) {
  page.body.classList.toggle("panel-collapsed", !open);
  page.panelButton.setAttribute("aria-expanded", String(open));
}

async function toggleFullScreen(element) {
  try {
    if (document.fullscreenElement === element) await document.exitFullscreen();
    else await element.requestFullscreen();
  } catch (err) {
    showActionError(new Error(`Full screen is not available here: ${err.message}`));
  }
}

function setUpStage() {
  page.layoutButton.addEventListener("click", () => stage.setLayout(stage.layout === "grid" ? "speaker" : "grid"));
  page.panelButton.addEventListener("click", () =>
    setPanelOpen(page.panelButton.getAttribute("aria-expanded") !== "true"),
  );
  page.fullScreenButton.hidden = !document.fullscreenEnabled;
  // The whole classroom goes full screen, so the toolbar and the panel stay in reach.
  const classroom = document.getElementById("classroom");
  page.fullScreenButton.addEventListener("click", () => toggleFullScreen(classroom));
  document.addEventListener("fullscreenchange", () => {
    setTool(page.fullScreenButton, document.fullscreenElement === classroom ? "Exit full screen" : "Full screen");
  });
  setPanelOpen(!matchMedia(NARROW).matches);
}

// ---- connection health ----------------------------------------------------------------------------------

/** Someone else publishes a microphone or camera that is on: their media should be arriving. */
function othersPublish() {
  return participants
    .participants()
    .some((p) => !p.robot && !isSelf(p.user_id) && (micState(p) === "on" || cameraState(p) === "on"));
}

/** Shows what to do while our media cannot connect or receives nothing; hidden once it works again. */
function showHealth(healthState) {
  const message = HEALTH_MESSAGES[healthState];
  if (message) media.trouble = true;
  if (healthState === "connected") media.trouble = false;
  if (message) {
    page.healthText.textContent = message;
    page.reconnectButton.disabled = false;
  } else if (media.trouble && healthState === "connecting") {
    page.healthText.textContent = "Reconnecting your audio and video…";
    page.reconnectButton.disabled = true;
  }
  page.health.hidden = !(message || (media.trouble && healthState === "connecting"));
}

async function reconnectMedia() {
  page.reconnectButton.disabled = true;
  if (!media.session?.active) {
    await startMedia();
    return;
  }
  media.health.start();
  try {
    await media.session.restart();
  } catch (err) {
    showActionError(err);
  }
}

function soundWasBlocked() {
  if (media.soundBlocked) return;
  media.soundBlocked = true;
  page.soundButton.hidden = false;
  showMediaStatus();
}

/** Why we publish less than we might, and held-back sound: they stay until they no longer hold. */
function showMediaStatus() {
  if (media.notice) notices.info(media.notice, { key: NOTICE.media, timeoutMs: 0 });
  else notices.dismiss(NOTICE.media);
  if (media.soundBlocked) {
    notices.info("Your browser holds back the classroom's sound: press “Turn on sound”.", {
      key: NOTICE.sound,
      timeoutMs: 0,
    });
  } else {
    notices.dismiss(NOTICE.sound);
  }
}

function setSpeaker(userId) {
  const previous = state.speaking;
  state.speaking = userId;
  participants.setSpeaker(userId);
  for (const id of new Set([previous, userId])) if (id !== null) renderTile(id);
  stage.setSpeaker(userId);
}

// ---- media session ------------------------------------------------------------------------------------

/**
 * Opens the devices chosen before joining (those left on), as after a reconnect: the tracks obtained and,
 * if one is missing, why. A chosen device that is gone gives way to any other.
 */
async function captureChosen() {
  const tracks = {};
  let problem = null;
  for (const source of ["microphone", "camera"]) {
    if (!media.wanted[source]) continue;
    try {
      tracks[source] = await captureTrack(source, media.devices[source]);
    } catch (err) {
      try {
        tracks[source] = await captureTrack(source, null);
      } catch {
        problem = captureProblem(err, source);
      }
    }
  }
  return { tracks, problem };
}

/** Stops the capture tracks this page holds that no media session has taken. */
function stopLocalTracks() {
  for (const track of Object.values(media.local)) track?.stop();
  media.local = {};
}

/**
 * The Devices menu chose another camera or microphone: open it and swap it in (replaceTrack, no
 * renegotiation). A source turned off is only remembered for when it is turned on.
 */
async function switchDevice(source, deviceId) {
  media.devices[source] = deviceId || null;
  const session = media.session;
  if (!media.local[source] || !session?.active || deviceOf(media.local[source]) === deviceId) return;
  const track = await captureTrack(source, deviceId || null);
  if (!media.session?.active) {
    track.stop();
    return;
  }
  media.local[source] = track;
  try {
    await session.replaceTrack(source, track);
  } finally {
    renderMediaControls();
    if (state.self) renderTile(state.self.user_id);
  }
}

/** Joined with the camera or microphone off: turning it on opens it and starts publishing it. */
async function turnOn(source) {
  const track = await captureTrack(source, media.devices[source]);
  if (!media.session?.active) {
    track.stop();
    return;
  }
  media.local[source] = track;
  media.wanted[source] = true;
  await media.session.replaceTrack(source, track);
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
  session.on("error", (err) => console.warn("media:", err));
  // Failures and silence are shown (and told to the others) by the health watch.
  media.health = new MediaHealth(session, {
    report: (healthState) => state.connection.mediaHealth(healthState),
    onChange: showHealth,
    expectingMedia: othersPublish,
  });
  media.session = session;
  return session;
}

/** Starts camera, microphone and receiving, once the classroom is joined. */
async function startMedia() {
  if (media.starting || media.session?.active) return;
  media.starting = true;
  page.body.hidden = false;
  try {
    // The first time, the pre-join check has opened the devices; after a reconnect they are opened again.
    if (!media.fromPrejoin) {
      const { tracks, problem } = await captureChosen();
      media.local = tracks;
      media.notice = problem;
    }
    media.fromPrejoin = false;
    if (!state.joined) {
      stopLocalTracks();
      return;
    }
    const session = mediaSession();
    media.health.start();
    await session.start(allowedTracks(media.local));
    showMediaStatus();
  } catch (err) {
    media.health?.stop();
    media.local = {};
    if (state.joined) notices.error(`Audio and video could not start: ${err.message}`, { key: NOTICE.media });
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
    notices.error(`Audio and video could not start again: ${err.message}`, { key: NOTICE.media });
  }
}

/** Ends our media; notify: false when the server has already taken us out. */
async function stopMedia({ notify = true } = {}) {
  const session = media.session;
  media.health?.stop();
  showHealth(null);
  stopLocalTracks();
  media.remote = new Map();
  if (session) await session.stop({ notify });
  renderMediaControls();
}

function renderMediaControls() {
  const session = media.session;
  const live = Boolean(state.joined && session?.active);
  // Turned off before joining: not published, and "on" opens it. Missing or refused: nothing to switch.
  const micOff = !media.local.microphone && !media.wanted.microphone && media.available.microphone;
  const cameraOff = !media.local.camera && !media.wanted.camera && media.available.camera;
  const micMuted = micOff || Boolean(session?.muted.audio && media.local.microphone);
  const cameraMuted = cameraOff || Boolean(session?.muted.video && media.local.camera);
  // What a moderator has not allowed is shown off and disabled, and its name says why (the end of the name
  // is visually hidden, and the button's tooltip).
  if (mayOwn("microphone")) {
    setTool(page.micButton, micMuted ? "Unmute microphone" : "Mute microphone", micMuted ? "mic-off" : "mic");
    page.micButton.disabled = !(live && (media.local.microphone || micOff));
  } else {
    setTool(page.micButton, "Microphone not allowed", "mic-off", " by the moderator");
    page.micButton.disabled = true;
  }
  page.micButton.classList.toggle("off", micMuted || !mayOwn("microphone"));
  if (mayOwn("camera")) {
    setTool(page.cameraButton, cameraMuted ? "Turn camera on" : "Turn camera off", cameraMuted ? "camera-off" : "camera");
    page.cameraButton.disabled = !(live && (media.local.camera || cameraOff));
  } else {
    setTool(page.cameraButton, "Camera not allowed", "camera-off", " by the moderator");
    page.cameraButton.disabled = true;
  }
  page.cameraButton.classList.toggle("off", cameraMuted || !mayOwn("camera"));
  if (mayOwn("screen") || session?.sharingScreen) {
    setTool(page.screenButton, session?.sharingScreen ? "Stop sharing" : "Share screen");
    page.screenButton.disabled = !(live && navigator.mediaDevices?.getDisplayMedia);
  } else {
    setTool(page.screenButton, "Share screen", null, " (not allowed by the moderator)");
    page.screenButton.disabled = true;
  }
  page.screenButton.setAttribute("aria-pressed", String(Boolean(session?.sharingScreen)));
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

// ---- controls -----------------------------------------------------------------------------------------

function setHandRaised(raised) {
  state.handRaised = Boolean(raised);
  setTool(page.handButton, state.handRaised ? "Lower hand" : "Raise hand");
  page.handButton.setAttribute("aria-pressed", String(state.handRaised));
}

/** Enables or disables every control that sends something to the classroom (not "Leave classroom"). */
function setControlsEnabled(enabled) {
  state.online = enabled;
  rec?.setOnline(enabled);
  page.handButton.disabled = !enabled;
  chat.setEnabled(enabled);
  participants.setEnabled(enabled);
  hands.setEnabled(enabled);
}

async function runAction(button, action, successText) {
  button.disabled = true;
  try {
    const ack = await action();
    actionSucceeded();
    if (successText) notices.success(successText);
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
    mediaAction(page.micButton, () =>
      media.local.microphone
        ? media.session.setMuted("audio", !media.session.muted.audio)
        : turnOn("microphone"),
    ),
  );
  page.cameraButton.addEventListener("click", () =>
    mediaAction(page.cameraButton, () =>
      media.local.camera ? media.session.setMuted("video", !media.session.muted.video) : turnOn("camera"),
    ),
  );
  page.reconnectButton.addEventListener("click", reconnectMedia);
  // A full classroom: the whole way in again (a seat may have freed up).
  page.retryButton.addEventListener("click", () => location.reload());
  setUpStage();
  page.screenButton.addEventListener("click", () => mediaAction(page.screenButton, toggleScreen));
  page.soundButton.addEventListener("click", () => {
    media.soundBlocked = false;
    page.soundButton.hidden = true;
    notices.dismiss(NOTICE.sound);
    showMediaStatus();
    tiles.playAll();
  });

  page.handButton.addEventListener("click", async () => {
    const raised = !state.handRaised;
    ownHandWanted = raised;
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
  setUpRemoveDialog();
}

// ---- joining ------------------------------------------------------------------------------------------

function applyJoin(ack) {
  const { classroom, chat: history } = ack;
  state.joined = true;
  state.self = ack.self;
  setClassroom(classroom);
  rec.join(ack);
  replayUserId = null;

  participants.reset(ack.self.user_id, ack.rights);
  tiles.reset(ack.self.user_id);
  stage.reset(ack.self.user_id);
  for (const participant of ack.participants) upsertParticipant(participant);
  if (!participants.get(ack.self.user_id)) upsertParticipant(ack.self);
  setHandRaised(ack.self.hand_raised);
  replay.join(ack);

  chat.reset({
    messages: history ?? [],
    sessionStartedAt: ack.session_started_at ?? null,
    selfId: ack.self.user_id,
    maxLength: ack.limits?.chat_max_length ?? null,
  });

  notices.clear("error");
  page.controls.hidden = false;
  page.live.hidden = false;
  page.body.hidden = false;
  setControlsEnabled(true);
  page.leaveButton.disabled = false;
  renderMediaControls();
}

/** The server re-decided what this person may do here (e.g. made or unmade moderator). */
function applyRights({ self, rights, classroom }) {
  participants.setRights(rights);
  rec.setRights(rights);
  replay.setRights(rights);
  upsertParticipant(self);
  setClassroom(classroom);
}

function joinFailed(err) {
  state.joined = false;
  setControlsEnabled(false);
  rec.leave();
  replay.leave();
  stopMedia({ notify: false });
  prejoin.close();
  page.body.hidden = true;
  if (err.code === "unauthorized") {
    location.assign(loginUrl());
    return;
  }
  notices.clear();
  page.controls.hidden = true;
  page.live.hidden = true;
  if (err.code === "classroom_full" || err.code === "not_found" || err.code === "forbidden") {
    // Not let in: the page says why in place of the classroom, with the ways on.
    showEnded("You are not in this classroom", forPeople(err), { retry: err.code === "classroom_full" });
    state.connection.close();
    return;
  }
  notices.error(forPeople(err), { key: NOTICE.connection });
}

/** The page in place of the classroom: a heading, why, "Back to My classrooms" and, if offered, "Try again". */
function showEnded(heading, text, { retry = false } = {}) {
  notices.container.hidden = true;
  page.endedHeading.textContent = heading;
  page.endedText.textContent = text;
  page.retryButton.hidden = !retry;
  page.ended.hidden = false;
}

/**
 * The server has taken us out of the classroom: the page says so in full, in place of the classroom, with
 * the way back; everything that talks to the classroom stops.
 */
function stopParticipating(alertText) {
  state.joined = false;
  stopMedia({ notify: false });
  page.body.hidden = true;
  setControlsEnabled(false);
  rec.leave();
  replay.leave();
  if (removeDialog.dialog.open) removeDialog.dialog.close("cancel");
  notices.clear();
  page.controls.hidden = true;
  page.live.hidden = true;
  showEnded("You are no longer in this classroom", alertText);
  state.connection.close();
}

/** A moderator asks us to mute: one click does it, or the notice is dismissed. */
function muteRequested({ kind, by }) {
  const who = by?.display_name ?? "A moderator";
  const video = kind === "video";
  const text = video ? `${who} asks you to turn off your camera.` : `${who} asks you to mute your microphone.`;
  const button = video ? page.cameraButton : page.micButton;
  notices.info(text, {
    key: `mute-${kind}`,
    actions: [
      {
        label: video ? "Turn camera off now" : "Mute now",
        onClick: () => {
          const session = media.session;
          const mediaKind = video ? "video" : "audio";
          if (!session?.active || session.muted[mediaKind] || !session.tracks[video ? "camera" : "microphone"]) return;
          return mediaAction(button, () => session.setMuted(mediaKind, true));
        },
      },
    ],
  });
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
  connection.on("participant_updated", ({ participant }) => upsertParticipant(participant, { announce: true }));
  connection.on("rights_changed", applyRights);
  connection.on("chat", ({ message }) => chat.append(message));
  connection.on("mute_requested", muteRequested);
  connection.on("removed", ({ reason }) => stopParticipating(REMOVED_MESSAGES[reason] ?? REMOVED_MESSAGES.removed));
  connection.on("error", (err) => {
    // The media session answers its own signalling refusals (a peer the server closed is set up again):
    // a candidate that trails a failed peer is not the user's problem.
    if (!SELF_HANDLED_ERRORS.has(err.event)) showActionError(err);
  });
  connection.on("active_speaker", ({ user_id: userId }) => setSpeaker(userId ?? null));
  connection.on("recording_state", (payload) => {
    rec.recordingState(payload);
    replay.recordingsChanged(payload.recording);
  });
  if (SERVER_EVENTS.includes("replay_state")) {
    connection.on("replay_state", (payload) => replay.replayState(payload));
  }
  if (SERVER_EVENTS.includes("recording_media")) {
    connection.on("recording_media", (payload) => rec.recordingMedia(payload));
  }
  if (SERVER_EVENTS.includes("bookmark_added")) {
    connection.on("bookmark_added", (payload) => rec.bookmarkAdded(payload));
  }

  connection.on("connection_lost", () => {
    if (!state.joined) return;
    setControlsEnabled(false);
    for (const button of [page.micButton, page.cameraButton, page.screenButton]) button.disabled = true;
    notices.warning("Connection lost. Reconnecting…", { key: NOTICE.connection });
  });
  connection.on("rejoined", (ack) => {
    applyJoin(ack);
    notices.success("Reconnected.", { key: NOTICE.connection });
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
    notices.error("This is not a classroom address.");
    return;
  }
  // The name is shown even when joining fails (e.g. the classroom is full).
  getClassroom(classroomId).then(
    (classroom) => {
      if (state.joined) return;
      setClassroom({ name: classroom.name });
      prejoin.setClassroom(classroom);
    },
    () => {},
  );

  const socket = io(NAMESPACE, { transports: ["websocket"], withCredentials: true });
  state.connection = new ClassroomConnection(socket);
  state.classroomId = classroomId;
  rec = recControls(classroomId);
  replay = replayControls(classroomId);
  listen(state.connection);
  setUpControls();
  // The check before entering: the tracks it opened are published as they are.
  const choice = await prejoin.run();
  media.local = choice.tracks;
  media.devices = choice.devices;
  media.wanted = choice.on;
  media.available = choice.available;
  media.notice = choice.problem;
  media.fromPrejoin = true;
  try {
    applyJoin(await state.connection.join(classroomId));
  } catch (err) {
    joinFailed(err);
    return;
  }
  await startMedia();
}

main();
