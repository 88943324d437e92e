// The classroom's Participants list: names, role badges, microphone and camera state, connection problems,
// raised hands, and the moderator's buttons, shown from the rights the server sends (`rights.can_moderate`
// with each participant's `removable`, `mutable` and `media_rights_editable`; `may_publish` says which
// sources a student may send now).
import {
  CAMERA_ICONS,
  CAMERA_LABELS,
  MIC_ICONS,
  MIC_LABELS,
  cameraState,
  micState,
  setIcon,
} from "/static/js/media_state.js";
import { handIcon } from "/static/js/hand_queue.js";
import { el } from "/static/js/nav.js";

const ROLE_NAMES = { admin: "Admin", teacher: "Teacher", student: "Student", replay: "Replay" };
const SOURCE_NAMES = { microphone: "microphone", camera: "camera", screen: "screen" };
const MEDIA_SOURCES = Object.keys(SOURCE_NAMES);
// What the list says for a participant whose media did not connect (`media_health`, reported by their page).
const HEALTH_PROBLEMS = { failed: "Connection problem", no_media: "Connection problem" };

/** Whether the participant may send `source` now (the server's `may_publish`; all when not sent). */
export function mayPublish(participant, source) {
  return (participant.may_publish ?? MEDIA_SOURCES).includes(source);
}

export class ParticipantList {
  /**
   * @param list the <ul> of participants
   * @param actions.onMute (userId, button): the moderator asks that participant to mute
   * @param actions.onRemove (userId, button): the moderator removes that participant
   * @param actions.onMediaPermission (userId, source, allowed, button): the moderator allows or denies a
   *   student's microphone, camera or screen
   */
  constructor(list, { onMute, onRemove, onMediaPermission }) {
    this.list = list;
    this._onMute = onMute;
    this._onRemove = onRemove;
    this._onMediaPermission = onMediaPermission;
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
    const [mic, camera, details] = mediaState.children;
    const micNow = micState(participant);
    const cameraNow = cameraState(participant);
    setIcon(mic, MIC_LABELS[micNow], MIC_ICONS[micNow], micNow);
    setIcon(camera, CAMERA_LABELS[cameraNow], CAMERA_ICONS[cameraNow], cameraNow);
    details.replaceChildren(...this._mediaDetails(participant));
    item.dataset.speaking = String(participant.user_id === this.speaking);
    item.dataset.health = participant.media_health ?? "unknown";
    this._renderActions(actions, participant);
  }

  /** Words beside the icons: screen sharing, a connection problem, the sources a student may not send. */
  _mediaDetails(participant) {
    const details = [];
    if (participant.screen_sharing) details.push(el("span", { className: "media-note" }, "Sharing screen"));
    const problem = HEALTH_PROBLEMS[participant.media_health];
    if (problem) details.push(el("span", { className: "media-note problem" }, problem));
    const denied = MEDIA_SOURCES.filter((source) => !mayPublish(participant, source));
    // Students seldom may share their screen: the list says so only for the microphone and camera.
    const shown = denied.filter((source) => source !== "screen");
    if (!participant.robot && shown.length > 0) {
      const names = shown.map((source) => SOURCE_NAMES[source]).join(", ");
      details.push(el("span", { className: "media-note denied" }, `Not allowed: ${names}`));
    }
    return details;
  }

  /** The moderator's buttons; kept while they stay wanted, so keyboard focus is not lost on each update. */
  _renderActions(actions, participant) {
    // Our own row has none: our microphone is ours to mute, in the controls.
    const moderating = Boolean(this.rights.can_moderate) && participant.user_id !== this.selfId;
    const wanted = { mute: moderating && participant.mutable, remove: moderating && participant.removable };
    for (const kind of ["mute", "remove"]) {
      let button = actions.querySelector(`:scope > [data-action="${kind}"]`);
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
    this._renderRightsMenu(actions, participant, moderating && Boolean(participant.media_rights_editable));
  }

  /**
   * "Media rights" for a student: a disclosure with Allow/Deny for the microphone, camera and screen.
   * The server decides and enforces; the buttons only ask (media_permission).
   */
  _renderRightsMenu(actions, participant, wanted) {
    let menu = actions.querySelector(".media-rights");
    if (!wanted) {
      menu?.remove();
      return;
    }
    const name = participant.display_name;
    if (!menu) {
      const panelId = `media-rights-${participant.user_id}`;
      const toggle = el("button", {
        type: "button",
        className: "small secondary media-rights-toggle",
        "aria-expanded": "false",
        "aria-controls": panelId,
      });
      const panel = el("div", { className: "media-rights-panel", id: panelId, hidden: true });
      for (const source of MEDIA_SOURCES) {
        const button = el("button", { type: "button", className: "small", "data-source": source });
        button.disabled = !this.enabled;
        button.addEventListener("click", () => {
          const entry = this.entries.get(participant.user_id);
          if (!entry) return;
          this._onMediaPermission(participant.user_id, source, !mayPublish(entry.participant, source), button);
        });
        panel.append(el("div", { className: "media-right" }, el("span", { className: "media-right-state" }), button));
      }
      toggle.disabled = !this.enabled;
      toggle.addEventListener("click", () => {
        const open = toggle.getAttribute("aria-expanded") !== "true";
        toggle.setAttribute("aria-expanded", String(open));
        panel.hidden = !open;
      });
      panel.addEventListener("keydown", (event) => {
        if (event.key !== "Escape") return;
        toggle.setAttribute("aria-expanded", "false");
        panel.hidden = true;
        toggle.focus();
      });
      menu = el("span", { className: "media-rights" }, toggle, panel);
      actions.insertBefore(menu, actions.querySelector(':scope > [data-action="remove"]'));
    }
    const [toggle, panel] = menu.children;
    setText(toggle, "Media rights");
    toggle.setAttribute("aria-label", `Media rights for ${name}`);
    for (const row of panel.children) {
      const [stateText, button] = row.children;
      const source = button.dataset.source;
      const allowed = mayPublish(participant, source);
      const word = SOURCE_NAMES[source];
      setText(stateText, `${word[0].toUpperCase()}${word.slice(1)}: ${allowed ? "allowed" : "not allowed"}`);
      const verb = allowed ? "Deny" : "Allow";
      setText(button, `${verb} ${word}`);
      button.setAttribute("aria-label", `${verb} ${word} for ${name}`);
      button.classList.toggle("danger", allowed);
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

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
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
    el("span", { className: "media-details" }),
  );
  // The icon is drawn (no emoji font needed) and named; the text beside it says the same for the eye.
  const hand = el(
    "span",
    { className: "hand", hidden: true },
    el("span", { role: "img", "aria-label": "Hand raised", className: "hand-icon-wrap" }, handIcon()),
    el("span", { className: "hand-text", "aria-hidden": "true" }, "Hand raised"),
  );
  const actions = el("span", { className: "participant-actions" });
  item.append(name, badges, mediaState, hand, actions);
  return item;
}
