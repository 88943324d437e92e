// Bookmarks while recording, on the classroom page: the Bookmark button (with an optional remark, asked in
// a small dialog), one button per code of the recording's codes list, and the code's key on the keyboard
// (not while typing, nor with a dialog open). Each bookmark added is confirmed in a short notice with its
// media time; a refusal is said in words. Shown to who may record in the classroom (the server decides:
// `rights.can_record`), while a recording runs; usable while it writes and is not paused.
import { request } from "/static/js/api.js";
import { clearFieldErrors, reportFormError } from "/static/js/forms.js";
import { el, showMessage } from "/static/js/nav.js";
import { bookmarkText, canBookmark, codeForKey, isActive } from "/static/js/recording.js";

const CONFIRM_MS = 4000;
const PAUSED_TEXT = "The recording is paused: bookmarks can be added once it resumes.";

export class BookmarkControls {
  /**
   * @param elements {button, codes, dialog, form, remark, error, cancel}: the Bookmark button, the group
   *   that holds the code buttons, and the remark dialog with its form, remark input, error line and Cancel
   * @param hooks.onNotice ({text, kind, key, timeoutMs}): tells of a bookmark added
   * @param hooks.onError (err): a request failed outside the dialog
   */
  constructor(elements, hooks) {
    this.elements = elements;
    this.hooks = hooks;
    this.recording = null;
    this.rights = { can_record: false };
    this.online = false;
    this.codesKey = null; // the codes list the code buttons show (its JSON), to rebuild them only on change

    const e = elements;
    e.button.addEventListener("click", () => this._openDialog());
    e.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this._addFromDialog();
    });
    e.cancel.addEventListener("click", () => e.dialog.close());
    e.dialog.addEventListener("close", () => {
      if (!e.button.hidden) e.button.focus();
    });
    e.codes.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-code]");
      if (button && !button.disabled) this._add({ code: button.dataset.code });
    });
    document.addEventListener("keydown", (event) => this._onKey(event));
  }

  get shown() {
    return isActive(this.recording) && Boolean(this.rights?.can_record);
  }

  get codes() {
    return this.recording?.codes_list?.codes ?? [];
  }

  /** What runs now, what this person may do, and whether the page is connected; cheap when unchanged. */
  update({ recording, rights, online }) {
    this.recording = recording;
    this.rights = rights ?? { can_record: false };
    this.online = online;
    const e = this.elements;
    const shown = this.shown;
    const usable = shown && online && canBookmark(recording);
    e.button.hidden = !shown;
    e.button.disabled = !usable;
    this._renderCodes(shown ? (recording.codes_list ?? null) : null);
    for (const button of e.codes.querySelectorAll("button")) button.disabled = !usable;
    if (!shown) {
      if (e.dialog.open) e.dialog.close();
      return;
    }
    if (e.dialog.open) {
      e.form.querySelector("button[type=submit]").disabled = !usable;
      const why = recording.paused ? PAUSED_TEXT : "";
      if (e.error.dataset.paused !== String(Boolean(why))) {
        e.error.dataset.paused = String(Boolean(why));
        showMessage(e.error, why);
      }
    }
  }

  /** A `bookmark_added` event: another moderator's bookmark is told (one's own is told by its answer). */
  bookmarkAdded({ bookmark }, selfUserId) {
    if (!bookmark || !this.shown || bookmark.recording_id !== this.recording.id) return;
    if (bookmark.created_by?.id === selfUserId) return;
    const who = bookmark.created_by?.display_name ?? "Another moderator";
    this.hooks.onNotice({
      text: `${who} added: ${bookmarkText(bookmark)}`,
      kind: "info",
      key: `bookmark-${bookmark.id}`,
      timeoutMs: CONFIRM_MS,
    });
  }

  _renderCodes(list) {
    const group = this.elements.codes;
    const key = list && list.codes?.length ? JSON.stringify(list) : null;
    if (key === this.codesKey) return;
    this.codesKey = key;
    group.hidden = key === null;
    if (key === null) {
      group.replaceChildren();
      group.removeAttribute("aria-label");
      return;
    }
    group.setAttribute("aria-label", `Codes: ${list.name}`);
    group.replaceChildren(...list.codes.map((code) => codeButton(code)));
  }

  _onKey(event) {
    if (event.defaultPrevented || event.repeat || event.ctrlKey || event.metaKey || event.altKey) return;
    if (!this.shown || typingIn(event.target) || document.querySelector("dialog[open]")) return;
    // Space activates a focused button; it is the button's, not a code's.
    if (event.key === " " && event.target.closest?.("button, a[href], summary, [role=button]")) return;
    const code = codeForKey(this.codes, event.key);
    if (!code) return;
    event.preventDefault();
    if (!this.online) return;
    if (!canBookmark(this.recording)) {
      if (this.recording.paused) this.hooks.onNotice({ text: PAUSED_TEXT, kind: "warning", key: "bookmark" });
      return;
    }
    this._add({ code: code.code });
  }

  /** Adds a bookmark now; returns it, or null when refused (then `onError` or the caller says why). */
  async _add(body, { quiet = false } = {}) {
    const recordingId = this.recording.id;
    try {
      const answer = await request("POST", `/api/recordings/${encodeURIComponent(recordingId)}/bookmarks`, body);
      const bookmark = answer.bookmark;
      this.hooks.onNotice({ text: bookmarkText(bookmark), kind: "success", key: "bookmark", timeoutMs: CONFIRM_MS });
      return bookmark;
    } catch (err) {
      if (quiet && err.code !== "unauthorized") throw err;
      this.hooks.onError(err);
      return null;
    }
  }

  _openDialog() {
    const e = this.elements;
    if (!canBookmark(this.recording) || e.dialog.open) return;
    clearFieldErrors(e.form);
    e.form.reset();
    delete e.error.dataset.paused;
    showMessage(e.error, "");
    e.form.querySelector("button[type=submit]").disabled = false;
    e.dialog.showModal();
    e.remark.focus();
  }

  async _addFromDialog() {
    const e = this.elements;
    if (!canBookmark(this.recording)) return;
    const remark = e.remark.value.trim();
    const submit = e.form.querySelector("button[type=submit]");
    submit.disabled = true;
    clearFieldErrors(e.form);
    showMessage(e.error, "");
    try {
      await this._add(remark ? { remark } : {}, { quiet: true });
      e.dialog.close();
    } catch (err) {
      showMessage(e.error, reportFormError(e.form, err));
    } finally {
      submit.disabled = !canBookmark(this.recording);
    }
  }
}

/** A code's button: its label (or code) and its key, named "Bookmark <label>" for screen readers. */
function codeButton(code) {
  const name = code.label || code.code;
  const button = el(
    "button",
    { type: "button", className: "code-button", "data-code": code.code },
    el("span", { className: "visually-hidden" }, "Bookmark "),
    el("span", { className: "code-label" }, name),
  );
  if (code.key) {
    button.setAttribute("aria-keyshortcuts", code.key);
    button.append(el("kbd", { className: "code-key", "aria-hidden": "true" }, code.key));
    button.title = `Bookmark “${name}” (key ${code.key})`;
  } else {
    button.title = `Bookmark “${name}”`;
  }
  return button;
}

/** Whether a key press goes to something the person types in (chat, a remark, any field). */
function typingIn(target) {
  if (!(target instanceof Element)) return false;
  return Boolean(target.closest("input, textarea, select, [contenteditable]:not([contenteditable=false])"));
}
