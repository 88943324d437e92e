// The classroom's Participants list: names, role badges, microphone and camera state, raised hands, and the
// moderator's buttons, shown from the rights the server sends (`rights.can_moderate` with each participant's
// `removable` and `mutable`).
import {
  CAMERA_ICONS,
  CAMERA_LABELS,
  MIC_ICONS,
  MIC_LABELS,
  cameraState,
  micState,
  setIcon,
} from "/static/js/media_state.js";
import { el } from "/static/js/nav.js";

const ROLE_NAMES = { admin: "Admin", teacher: "Teacher", student: "Student" };

export class ParticipantList {
  /**
   * @param list the <ul> of participants
   * @param actions.onMute (userId, button): the moderator asks that participant to mute
   * @param actions.onRemove (userId, button): the moderator removes that participant
   */
  constructor(list, { onMute, onRemove }) {
    this.list = list;
    this._onMute = onMute;
    this._onRemove = onRemove;
    this.entries = new Map(); // user_id -> {participant, item}
    this.selfId = null;
    this.rights = { can_moderate: false };
    this.recordingActive = false; // "Not recorded" badges are shown only while a recording runs
    this.speaking = null;
    this.enabled = false; // false while not joined or disconnected: the buttons do nothing then
  }

  /** Empties the list for a new join ack: `selfId` is this page's own user, `rights` the ack's. */
  reset(selfId, rights) {
    this.entries.clear();
    this.list.replaceChildren();
    this.selfId = selfId;
    this.rights = rights ?? { can_moderate: false };
  }

  /** The server changed what this user may do (join ack or rights_changed). */
  setRights(rights) {
    this.rights = rights ?? { can_moderate: false };
    this._renderAll();
  }

  setRecordingActive(active) {
    if (this.recordingActive === active) return;
    this.recordingActive = active;
    this._renderAll();
  }

  setEnabled(enabled) {
    this.enabled = enabled;
    for (const button of this.list.querySelectorAll("button")) button.disabled = !enabled;
  }

  setSpeaker(userId) {
    this.speaking = userId;
    for (const [id, { item }] of this.entries) item.dataset.speaking = String(id === userId);
  }

  get(userId) {
    return this.entries.get(userId)?.participant;
  }

  displayName(userId) {
    return this.get(userId)?.display_name ?? "";
  }

  /** Every participant, in the order they joined. */
  participants() {
    return [...this.entries.values()].map((entry) => entry.participant);
  }

  upsert(participant) {
    let entry = this.entries.get(participant.user_id);
    if (!entry) {
      entry = { participant, item: participantItem() };
      this.entries.set(participant.user_id, entry);
      this.list.append(entry.item);
    }
    entry.participant = participant;
    this._render(entry);
  }

  remove(userId) {
    this.entries.get(userId)?.item.remove();
    this.entries.delete(userId);
  }

  /** A new recording asks everyone anew: earlier consent answers no longer count. */
  forgetConsent() {
    for (const entry of this.entries.values()) {
      entry.participant = { ...entry.participant, recording_consent: null };
    }
    this._renderAll();
  }

  _renderAll() {
    for (const entry of this.entries.values()) this._render(entry);
  }

  _render({ item, participant }) {
    const [name, badges, mediaState, hand, actions] = item.children;
    const isSelf = participant.user_id === this.selfId;
    item.dataset.userId = participant.user_id;
    item.classList.toggle("self", isSelf);
    name.replaceChildren(participant.display_name);
    if (isSelf) name.append(el("span", { className: "you" }, " (you)"));

    const badgeTexts = participant.robot ? ["Robot"] : [ROLE_NAMES[participant.role] ?? participant.role];
    if (participant.moderator) badgeTexts.push("Moderator");
    if (participant.recording_consent === false && this.recordingActive) badgeTexts.push("Not recorded");
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
    item.dataset.speaking = String(participant.user_id === this.speaking);
    this._renderActions(actions, participant);
  }

  /** The moderator's buttons; kept while they stay wanted, so keyboard focus is not lost on each update. */
  _renderActions(actions, participant) {
    // Our own row has none: our microphone is ours to mute, in the controls.
    const moderating = Boolean(this.rights.can_moderate) && participant.user_id !== this.selfId;
    const wanted = { mute: moderating && participant.mutable, remove: moderating && participant.removable };
    for (const kind of ["mute", "remove"]) {
      let button = actions.querySelector(`[data-action="${kind}"]`);
      if (!wanted[kind]) {
        button?.remove();
        continue;
      }
      if (!button) {
        button = this._actionButton(kind, participant.user_id);
        if (kind === "mute") actions.prepend(button);
        else actions.append(button);
      }
      const name = participant.display_name;
      const text = kind === "mute" ? `Ask ${name} to mute` : `Remove ${name}`;
      if (button.textContent !== text) button.textContent = text;
    }
  }

  _actionButton(kind, userId) {
    const className = kind === "mute" ? "small secondary" : "small danger";
    const button = el("button", { type: "button", className, "data-action": kind });
    button.disabled = !this.enabled;
    const act = kind === "mute" ? this._onMute : this._onRemove;
    button.addEventListener("click", () => act(userId, button));
    return button;
  }
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
