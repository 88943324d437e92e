// Raised hands in the order they went up (the server's `hand_raised_at` on each participant), and the
// "Raised hands" panel that shows them, with the moderator's Lower buttons. The order and the "who just
// raised a hand" rule are DOM-free functions; the panel only touches the document when it is built.

/** The participants whose hand is up, first raised first (then by user id); a new array. */
export function handQueue(participants) {
  const raised = participants.filter((participant) => participant.hand_raised);
  const at = (participant) => participant.hand_raised_at ?? "";
  return raised.sort((a, b) => {
    // A hand without a time (not expected from the server) goes last rather than first.
    if (!at(a) !== !at(b)) return at(a) ? -1 : 1;
    return Date.parse(at(a)) - Date.parse(at(b)) || a.user_id - b.user_id;
  });
}

/** Whether `after` (a participant_updated) shows a hand that has just gone up, compared with `before`. */
export function handJustRaised(before, after) {
  if (!after?.hand_raised) return false;
  if (!before?.hand_raised) return true;
  // Lowered and raised again between two updates we saw: a new place at the end of the queue.
  return Boolean(after.hand_raised_at) && after.hand_raised_at !== before.hand_raised_at;
}

const SVG = "http://www.w3.org/2000/svg";
// An open hand, drawn as a path so no emoji font is needed.
const HAND_PATH =
  "M7 11V5.5a1.5 1.5 0 0 1 3 0V10m0-5.5V3.5a1.5 1.5 0 0 1 3 0V10m0-5a1.5 1.5 0 0 1 3 0v5m0-3a1.5 1.5 0 0 1 3 0" +
  "v6.5a7 7 0 0 1-7 7h-.5a7 7 0 0 1-5.6-2.8L3.6 14.6a1.5 1.5 0 0 1 2.3-1.9L7 14";

/** A hand icon (inline SVG, hidden from assistive technology: the text beside it says it). */
export function handIcon(className = "hand-icon") {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "16");
  svg.setAttribute("height", "16");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("class", className);
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", HAND_PATH);
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", "currentColor");
  path.setAttribute("stroke-width", "1.8");
  path.setAttribute("stroke-linecap", "round");
  path.setAttribute("stroke-linejoin", "round");
  svg.append(path);
  return svg;
}

/** The "Raised hands" panel: the queue in order, and for moderators Lower and Lower all hands. */
export class HandQueuePanel {
  /**
   * @param parts.section the panel (hidden while no hand is up)
   * @param parts.list the <ol> of raised hands
   * @param parts.lowerAll the "Lower all hands" button
   * @param actions.onLower (userId | null, button): a moderator lowers one hand, or every hand for null
   */
  constructor({ section, list, lowerAll }, { onLower }) {
    this.section = section;
    this.list = list;
    this.lowerAll = lowerAll;
    this._onLower = onLower;
    this.canModerate = false;
    this.selfId = null;
    this.enabled = false;
    this.lowerAll.addEventListener("click", () => this._onLower(null, this.lowerAll));
  }

  setEnabled(enabled) {
    this.enabled = enabled;
    for (const button of this.section.querySelectorAll("button")) button.disabled = !enabled;
  }

  /** Redraws the queue from every participant; `canModerate` from the server's rights. */
  render(participants, { canModerate, selfId }) {
    this.canModerate = Boolean(canModerate);
    this.selfId = selfId;
    const queue = handQueue(participants);
    this.section.hidden = queue.length === 0;
    this.lowerAll.hidden = !this.canModerate;
    this.lowerAll.disabled = !this.enabled;
    const focused = this.list.contains(document.activeElement) ? document.activeElement.closest("li") : null;
    const items = queue.map((participant, index) => this._item(participant, index + 1));
    this.list.replaceChildren(...items);
    if (!focused) return;
    // Redrawing must not drop keyboard focus to the page's start: the same row's button, else the next one.
    const same = this.list.querySelector(`li[data-user-id="${focused.dataset.userId}"] button`);
    const next = same ?? this.list.querySelector("button") ?? (this.lowerAll.hidden ? null : this.lowerAll);
    next?.focus();
  }

  _item(participant, position) {
    const item = document.createElement("li");
    item.className = "hand-queue-item";
    item.dataset.userId = participant.user_id;
    const name = document.createElement("span");
    name.className = "hand-queue-name";
    const you = participant.user_id === this.selfId ? " (you)" : "";
    name.append(handIcon(), `${position}. ${participant.display_name}${you}`);
    item.append(name);
    if (this.canModerate) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "small secondary";
      button.textContent = `Lower ${participant.display_name}'s hand`;
      button.disabled = !this.enabled;
      button.addEventListener("click", () => this._onLower(participant.user_id, button));
      item.append(button);
    }
    return item;
  }
}
