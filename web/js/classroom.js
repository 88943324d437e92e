// Live classroom page (/classrooms/{id}): participants, raised hands, moderation and chat.
import { io } from "/vendor/socket.io.esm.min.js";
import { getClassroom } from "/static/js/api.js";
import { clearMessage, el, initPage, loginUrl, showMessage } from "/static/js/nav.js";
import { ClassroomConnection, NAMESPACE } from "/static/js/protocol.js";

const ROLE_NAMES = { admin: "Admin", teacher: "Teacher", student: "Student" };

const page = {
  name: document.getElementById("classroom-name"),
  seats: document.getElementById("seats"),
  alert: document.getElementById("alert"),
  status: document.getElementById("status"),
  controls: document.getElementById("controls"),
  live: document.getElementById("live"),
  handButton: document.getElementById("hand-button"),
  leaveButton: document.getElementById("leave-button"),
  participants: document.getElementById("participants"),
  chatMessages: document.getElementById("chat-messages"),
  chatForm: document.getElementById("chat-form"),
  chatInput: document.getElementById("chat-input"),
};

/** What this page knows about the classroom; replaced wholesale by every join ack. */
const state = {
  connection: null,
  joined: false,
  self: null,
  seatLimit: null,
  handRaised: false,
  participants: new Map(), // user_id -> {participant, item}
  chatIds: new Set(),
  actionError: null, // the alert text of the last failed action, cleared when an action succeeds
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
  const hand = el("span", { className: "hand", role: "img", "aria-label": "Hand raised", hidden: true }, "✋");
  const actions = el("span", { className: "participant-actions" });
  item.append(name, badges, hand, actions);
  return item;
}

function renderParticipant(item, participant) {
  const [name, badges, hand, actions] = item.children;
  const isSelf = state.self && participant.user_id === state.self.user_id;
  item.dataset.userId = participant.user_id;
  item.classList.toggle("self", Boolean(isSelf));
  name.replaceChildren(participant.display_name);
  if (isSelf) name.append(el("span", { className: "you" }, " (you)"));

  const badgeTexts = [ROLE_NAMES[participant.role] ?? participant.role];
  if (participant.moderator) badgeTexts.push("Moderator");
  if (participant.robot) badgeTexts.push("Robot");
  badges.replaceChildren(
    ...badgeTexts.map((text) => el("span", { className: `badge badge-${text.toLowerCase()}` }, text)),
  );
  hand.hidden = !participant.hand_raised;

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
  renderParticipant(entry.item, participant);
  if (state.self && participant.user_id === state.self.user_id) {
    state.self = participant;
    setHandRaised(participant.hand_raised);
  }
}

function removeParticipant(userId) {
  const entry = state.participants.get(userId);
  if (!entry) return;
  entry.item.remove();
  state.participants.delete(userId);
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
  page.handButton.addEventListener("click", async () => {
    const raised = !state.handRaised;
    const ack = await runAction(page.handButton, () => state.connection.hand(raised));
    if (ack) setHandRaised(raised);
  });

  page.leaveButton.addEventListener("click", async () => {
    page.leaveButton.disabled = true;
    if (state.joined) {
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
  setSeats(classroom.seats_used);

  state.participants.clear();
  page.participants.replaceChildren();
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
}

function joinFailed(err) {
  state.joined = false;
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
  setControlsEnabled(false);
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

  connection.on("connection_lost", () => {
    if (!state.joined) return;
    setControlsEnabled(false);
    showMessage(page.status, "Connection lost. Reconnecting…");
  });
  connection.on("rejoined", (ack) => {
    applyJoin(ack);
    showMessage(page.status, "Reconnected.");
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
  listen(state.connection);
  setUpControls();
  try {
    applyJoin(await state.connection.join(classroomId));
  } catch (err) {
    joinFailed(err);
  }
}

main();
