// The dashboard's "Record several classrooms" dialog (docs/protocol.md, "Recording sessions"): the
// classrooms this user may record, as checkboxes (one already recording is disabled and says who records
// it), the session modes the admin allows (GET /api/recording-modes), an optional name; Start sends
// POST /api/recording-sessions. The server's refusals show in words next to the field they concern: a
// classroom recording meanwhile (409 recording_active) next to the classrooms, a mode the admin no longer
// allows (403 mode_refused) next to the modes. Escape or Cancel closes it; the keyboard goes back to the
// button that opened it.
import { request } from "/static/js/api.js";
import { el, redirectIfUnauthorized, showMessage } from "/static/js/nav.js";
import { busyReason, offeredSessionModes, offersSessions, recordableClassrooms, startedText } from "/static/js/sessions.js";

export const getRecordingModes = () => request("GET", "/api/recording-modes");
export const startSession = (fields) =>
  request("POST", "/api/recording-sessions", fields).then((d) => d.session);

const MIN_CLASSROOMS = 2;

/**
 * Wires the dialog of classrooms.html. `onStarted(session, text)` runs after a session started (the dialog
 * is closed by then), `onChanged()` when the server's answer says the dashboard is out of date (a classroom
 * started recording meanwhile, or went away).
 */
export class SessionDialog {
  constructor({ onStarted, onChanged }) {
    this.onStarted = onStarted;
    this.onChanged = onChanged;
    this.actions = document.getElementById("session-actions");
    this.button = document.getElementById("session-open");
    this.dialog = document.getElementById("session-dialog");
    this.form = document.getElementById("session-form");
    this.alert = document.getElementById("session-alert");
    this.classroomField = document.getElementById("session-classrooms");
    this.classroomList = document.getElementById("session-classroom-list");
    this.modeField = document.getElementById("session-mode");
    this.modeList = document.getElementById("session-mode-list");
    this.nameInput = document.getElementById("session-name");
    this.start = document.getElementById("session-start");
    this.cancel = document.getElementById("session-cancel");
    this.classrooms = []; // the dashboard's, as last rendered
    this.allowed = []; // the recording modes the admin allows, as last read
    this.pending = false;
    this.button.addEventListener("click", () => this.open());
    this.cancel.addEventListener("click", () => this.dialog.close());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    // A box ticked or a mode chosen: what was said about that field no longer holds.
    this.classroomField.addEventListener("change", () => this.clearError(this.classroomField));
    this.modeField.addEventListener("change", () => this.clearError(this.modeField));
    this.nameInput.addEventListener("input", () => this.clearError(this.nameInput));
    this.dialog.addEventListener("close", () => {
      if (this.button.isConnected && !this.actions.hidden) this.button.focus();
    });
  }

  /** The allowed modes, read again (the admin may change them); false when they could not be read. */
  async readModes() {
    try {
      const modes = await getRecordingModes();
      this.allowed = Array.isArray(modes?.allowed) ? modes.allowed : [];
      return true;
    } catch (err) {
      if (redirectIfUnauthorized(err)) return false;
      // A server without recording modes offers no sessions.
      this.allowed = [];
      return err.status === 404;
    }
  }

  /** Follows the dashboard's classrooms: the button shows for who may record two or more; an open
   * dialog's checkboxes follow (one that starts recording is unticked, disabled and says who records). */
  update(classrooms) {
    this.classrooms = classrooms;
    this.actions.hidden = !offersSessions(classrooms, this.allowed);
    if (this.dialog.open) this.renderClassrooms();
  }

  async open() {
    this.clearAll();
    this.nameInput.value = "";
    this.renderClassrooms();
    this.renderModes();
    this.dialog.showModal();
    this.focusFirstChoice();
    // The modes as the admin allows them now.
    if (await this.readModes()) {
      this.renderModes();
      if (!offeredSessionModes(this.allowed).length) {
        this.showAlert("The administrator does not allow recording several classrooms at once.");
      }
    }
  }

  focusFirstChoice() {
    const first = [...this.classroomList.querySelectorAll("input")].find((box) => !box.disabled);
    (first ?? this.cancel).focus();
  }

  renderClassrooms() {
    const rooms = recordableClassrooms(this.classrooms);
    const items = rooms.map((classroom) => {
      const id = `session-classroom-${classroom.id}`;
      const previous = this.classroomList.querySelector(`#${id}`);
      const reason = busyReason(classroom);
      const box = el("input", { type: "checkbox", id, name: "classroom", value: String(classroom.id) });
      box.checked = Boolean(previous?.checked) && !reason;
      box.disabled = Boolean(reason) || this.pending;
      box.dataset.busy = reason ? "true" : "false";
      const item = el("li", { className: "checkbox-row" }, box, el("label", { htmlFor: id }, classroom.name));
      if (reason) {
        const noteId = `${id}-busy`;
        box.setAttribute("aria-describedby", noteId);
        item.append(el("span", { id: noteId, className: "session-busy" }, reason));
      }
      return item;
    });
    const focused = this.classroomList.contains(document.activeElement) ? document.activeElement.id : null;
    this.classroomList.replaceChildren(...items);
    if (focused) {
      const again = document.getElementById(focused);
      if (again && !again.disabled) again.focus();
      else this.focusFirstChoice();
    }
  }

  renderModes() {
    const offered = offeredSessionModes(this.allowed);
    const chosen = this.modeList.querySelector("input:checked")?.value;
    const focused = this.modeList.contains(document.activeElement) ? document.activeElement.value : null;
    // The mode chosen stays chosen while it is allowed; else the first allowed one.
    const keep = offered.some((entry) => entry.mode === chosen) ? chosen : offered[0]?.mode;
    const items = offered.map((entry) => {
      const id = `session-mode-${entry.mode}`;
      const radio = el("input", { type: "radio", id, name: "session_mode", value: entry.mode });
      radio.checked = entry.mode === keep;
      radio.disabled = this.pending;
      return el("div", { className: "checkbox-row" }, radio, el("label", { htmlFor: id }, entry.label));
    });
    this.modeList.replaceChildren(...items);
    if (focused) document.getElementById(`session-mode-${focused}`)?.focus();
    this.start.disabled = this.pending || offered.length === 0;
  }

  chosenClassrooms() {
    return [...this.classroomList.querySelectorAll("input:checked")].map((box) => Number(box.value));
  }

  async submit() {
    if (this.pending) return;
    this.clearAll();
    const ids = this.chosenClassrooms();
    const mode = this.modeList.querySelector("input:checked")?.value;
    if (ids.length < MIN_CLASSROOMS) {
      this.fieldError(this.classroomField, "Choose at least two classrooms to record together.");
      return;
    }
    if (!mode) {
      this.fieldError(this.modeField, "Choose how to record them.");
      return;
    }
    const fields = { classroom_ids: ids, mode };
    const name = this.nameInput.value.trim();
    if (name) fields.name = name;
    this.setPending(true);
    let session;
    try {
      session = await startSession(fields);
    } catch (err) {
      this.setPending(false);
      await this.refused(err);
      return;
    }
    this.setPending(false);
    this.dialog.close();
    this.onStarted?.(session, startedText(session));
  }

  /** The server said no: in words, next to the field it concerns; the dialog catches up with the server. */
  async refused(err) {
    if (redirectIfUnauthorized(err)) return;
    const fields = err.fields ?? {};
    const placed = [];
    if (fields.name) placed.push(this.fieldError(this.nameInput, fields.name));
    if (fields.mode) placed.push(this.fieldError(this.modeField, fields.mode));
    if (fields.classroom_ids) placed.push(this.fieldError(this.classroomField, fields.classroom_ids));
    if (placed.length) return;
    if (err.code === "mode_refused") {
      this.fieldError(this.modeField, err.message);
      if (await this.readModes()) this.renderModes();
      // No mode left to choose: the keyboard goes to Cancel.
      if (!this.modeList.querySelector("input")) this.cancel.focus();
      return;
    }
    if (err.status === 409 || err.status === 403 || err.status === 404) {
      // A classroom recording meanwhile, one this user no longer moderates, or one gone: said next to the
      // classrooms, which then show what the server says now.
      this.fieldError(this.classroomField, err.message);
      await this.onChanged?.();
      return;
    }
    this.showAlert(err.message);
  }

  setPending(pending) {
    this.pending = pending;
    this.start.disabled = pending;
    this.start.textContent = pending ? "Starting…" : "Start recording";
    for (const control of this.form.querySelectorAll("input")) {
      control.disabled = pending || control.dataset.busy === "true";
    }
    if (!pending) this.renderModes();
  }

  /** Shows `text` right after `field`, marks it invalid and described by it, and moves the keyboard there. */
  fieldError(field, text) {
    this.clearError(field);
    const message = el("p", { className: "field-error", id: `${field.id}-error` }, text);
    field.after(message);
    field.setAttribute("aria-invalid", "true");
    const described = (field.getAttribute("aria-describedby") ?? "").split(/\s+/).filter(Boolean);
    field.setAttribute("aria-describedby", [...described, message.id].join(" "));
    const target = field.matches("input")
      ? field
      : ([...field.querySelectorAll("input")].find((input) => input.checked && !input.disabled) ??
        [...field.querySelectorAll("input")].find((input) => !input.disabled));
    (target ?? this.start).focus();
    return message;
  }

  clearError(field) {
    const id = `${field.id}-error`;
    document.getElementById(id)?.remove();
    const kept = (field.getAttribute("aria-describedby") ?? "").split(/\s+/).filter((x) => x && x !== id);
    if (kept.length) field.setAttribute("aria-describedby", kept.join(" "));
    else field.removeAttribute("aria-describedby");
    field.removeAttribute("aria-invalid");
  }

  showAlert(text) {
    showMessage(this.alert, text);
  }

  clearAll() {
    for (const field of [this.classroomField, this.modeField, this.nameInput]) this.clearError(field);
    showMessage(this.alert, "");
  }
}
