// The page's notices: short messages that come and go ("Asked Sam Okafor to mute.", "Connection lost"),
// each with a Dismiss button and optional action buttons. Information and success clear themselves; warnings
// and errors stay until dismissed or replaced (a notice shown with the same `key` replaces the earlier one).
// Information and success are read out politely from a role="status" region, which exists from the start so
// screen readers hear what is added; warnings and errors at once from a role="alert" region, shown only
// while it holds something (an alert is announced when it appears, and an empty one is no landmark to find).

export const NOTICE_KINDS = Object.freeze(["info", "success", "warning", "error"]);
const URGENT = new Set(["warning", "error"]);
export const DEFAULT_TIMEOUT_MS = 6000;

/** One notice on the page; `dismiss()` takes it away (idempotent). */
class Notice {
  constructor(notices, element, key, onDismiss) {
    this._notices = notices;
    this.element = element;
    this.key = key;
    this._onDismiss = onDismiss;
    this._timer = null;
    this.dismissed = false;
  }

  get text() {
    return this.element.querySelector(".notice-text").textContent;
  }

  dismiss() {
    if (this.dismissed) return;
    this.dismissed = true;
    clearTimeout(this._timer);
    const hadFocus = this.element.contains(document.activeElement);
    this.element.remove();
    this._notices._forget(this, hadFocus);
    this._onDismiss?.();
  }

  /** Clears itself after ms, but not while the pointer rests on it or keyboard focus is inside. */
  _expireAfter(ms) {
    if (!ms) return;
    const arm = () => {
      clearTimeout(this._timer);
      this._timer = setTimeout(() => {
        if (this.element.matches(":hover") || this.element.contains(document.activeElement)) arm();
        else this.dismiss();
      }, ms);
    };
    arm();
  }
}

export class Notices {
  /**
   * @param container an element of the page; the notices' two live regions are created inside it
   * @param options.fallbackFocus where keyboard focus goes when a focused notice is dismissed
   */
  constructor(container, { fallbackFocus = null } = {}) {
    this.container = container;
    this.container.classList.add("notices");
    this.fallbackFocus = fallbackFocus;
    // A heading takes focus only from script, so that keyboard users are not left at the page's start.
    if (fallbackFocus && !fallbackFocus.hasAttribute("tabindex")) fallbackFocus.setAttribute("tabindex", "-1");
    this.status = region("status", "polite");
    this.alert = region("alert", "assertive");
    this.alert.hidden = true;
    this.container.append(this.alert, this.status);
    this._shown = new Set();
  }

  /**
   * Shows `text`; returns the notice (call `dismiss()` on it).
   * @param options.kind "info" | "success" | "warning" | "error"
   * @param options.timeoutMs after how long it clears itself (0: stays); info and success default to 6 s,
   *   warnings, errors and notices with actions stay
   * @param options.actions [{label, onClick}]: buttons before Dismiss; a click runs onClick(notice) and then
   *   dismisses the notice unless onClick returns false
   * @param options.key a notice shown with the same key replaces this one (default: the same text and kind)
   * @param options.onDismiss called once when the notice goes away
   */
  show(text, { kind = "info", timeoutMs, actions = [], key, onDismiss } = {}) {
    if (!NOTICE_KINDS.includes(kind)) throw new TypeError(`unknown notice kind: ${kind}`);
    const noticeKey = key ?? `${kind}:${text}`;
    this.dismiss(noticeKey);

    const element = document.createElement("div");
    element.className = `notice notice-${kind}`;
    element.dataset.kind = kind;
    const body = document.createElement("p");
    body.className = "notice-text";
    if (kind === "warning" || kind === "error") {
      // Said in words too, not by colour alone.
      const label = document.createElement("strong");
      label.textContent = kind === "error" ? "Error: " : "Warning: ";
      body.append(label);
    }
    body.append(text);
    element.append(body);

    const notice = new Notice(this, element, noticeKey, onDismiss);
    const buttons = document.createElement("div");
    buttons.className = "notice-buttons";
    for (const { label, onClick } of actions) {
      buttons.append(
        button(label, "notice-action", async () => {
          let keep = false;
          try {
            keep = (await onClick?.(notice)) === false;
          } finally {
            if (!keep) notice.dismiss();
          }
        }),
      );
    }
    buttons.append(button("Dismiss", "notice-dismiss secondary", () => notice.dismiss()));
    element.append(buttons);

    const target = URGENT.has(kind) ? this.alert : this.status;
    target.append(element);
    target.hidden = false;
    this._shown.add(notice);
    const sticky = URGENT.has(kind) || actions.length > 0;
    notice._expireAfter(timeoutMs ?? (sticky ? 0 : DEFAULT_TIMEOUT_MS));
    return notice;
  }

  info(text, options = {}) {
    return this.show(text, { ...options, kind: "info" });
  }

  success(text, options = {}) {
    return this.show(text, { ...options, kind: "success" });
  }

  warning(text, options = {}) {
    return this.show(text, { ...options, kind: "warning" });
  }

  error(text, options = {}) {
    return this.show(text, { ...options, kind: "error" });
  }

  /** Dismisses the notice shown with `key`, if any. */
  dismiss(key) {
    for (const notice of [...this._shown]) if (notice.key === key) notice.dismiss();
  }

  /** Dismisses every notice (or every notice of one kind). */
  clear(kind = null) {
    for (const notice of [...this._shown]) if (kind === null || notice.element.dataset.kind === kind) notice.dismiss();
  }

  /** The notices on the page, oldest first. */
  get shown() {
    return [...this._shown];
  }

  _forget(notice, hadFocus) {
    this._shown.delete(notice);
    if (this.alert.childElementCount === 0) this.alert.hidden = true;
    if (hadFocus) this.fallbackFocus?.focus();
  }
}

function region(role, live) {
  const element = document.createElement("div");
  element.setAttribute("role", role);
  element.setAttribute("aria-live", live);
  element.className = `notices-${role}`;
  return element;
}

function button(label, className, onClick) {
  const element = document.createElement("button");
  element.type = "button";
  element.className = `small ${className}`;
  element.textContent = label;
  element.addEventListener("click", onClick);
  return element;
}
