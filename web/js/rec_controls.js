// REC in the classroom page: the REC button with the recording mode (among those the admin allows) and the
// codes list picked before it, "Stop the whole session?" for a session's recording, Pause and Resume, the
// recording banner (indicator, "Recording paused" and consent notice), the consent question (mode "ask"),
// the reminder to record, the name asked on Stop (setting `edit_name_on_stop`), bookmarks (web/js/
// bookmark_controls.js) and the warning that a recording holds no one's media (`recording_media`, for
// moderators). The recording shown comes from one place: the join ack's `recording`, then
// `recording_state` events. The answers to start, stop, pause and resume only report errors; until the
// event comes the buttons say "Starting…", "Stopping…", "Pausing…" or "Resuming…".
import { getSettings, request, stopRecording, updateRecording } from "/static/js/api.js";
import { BookmarkControls } from "/static/js/bookmark_controls.js";
import { clearFieldErrors, reportFormError, showFieldErrors } from "/static/js/forms.js";
import { el, showMessage } from "/static/js/nav.js";
import {
  elapsedMs,
  formatDuration,
  isActive,
  isPaused,
  pauseControl,
  recControl,
  recordingEndMessage,
  starterName,
} from "/static/js/recording.js";

// While a stop is pending, these states are the recording not yet stopping.
const BEFORE_STOP = Object.freeze(["starting", "recording"]);

/** The modes of one classroom's recording, as the mode picker names them (the sessions' are elsewhere). */
export const MODE_LABELS = Object.freeze({
  composite: "Composite",
  tracks: "Each participant's tracks",
  both: "Both",
});
const SINGLE_MODES = Object.freeze(Object.keys(MODE_LABELS));

export const NO_MEDIA_WARNING =
  "The recording has no one's audio or video. Check that cameras and microphones are on and connected.";

export class RecControls {
  /**
   * @param elements the page's REC elements: {button, text, elapsed, reason, banner, warning,
   *   consentDialog, consentText, consentAccept, consentDecline, reminderDialog, reminderStart,
   *   reminderDismiss}, and optionally: tools (the row of recording tools), {codesPick, codesSelect} (the
   *   codes list picked before REC), {modePick, modeSelect} (the recording mode picked before REC),
   *   {sessionDialog, sessionText, sessionClassrooms, sessionStop, sessionCancel} ("Stop the whole
   *   session?"), pauseButton, {nameDialog, nameForm, nameInput, nameError, nameCancel} (the name asked on
   *   Stop) and bookmarks (the elements of BookmarkControls)
   * @param hooks.connection the ClassroomConnection (consent answers)
   * @param hooks.classroomId the classroom REC starts and stops
   * @param hooks.onError (err): a request failed (shown as an alert; a 401 leaves for the login page)
   * @param hooks.onSuccess (): a request succeeded (an earlier action error may be cleared)
   * @param hooks.onMessage ({text, alert}): what to tell the classroom when its recording ends
   * @param hooks.onActiveChanged (active): a recording began or ended
   * @param hooks.onNewRecording (): another recording than the one known: consent answers start afresh
   * @param hooks.onNotice ({text, kind, key, timeoutMs}): a short notice (a bookmark added)
   */
  constructor(elements, hooks) {
    this.elements = elements;
    this.hooks = hooks;
    this.recording = null; // the classroom's recording as the server last said it
    this.rights = { can_record: false };
    this.consent = { mode: "notice", text: "" };
    this.self = null; // this person's participant (their recording_consent as the server knows it)
    this.answers = new Map(); // recording id -> this person's consent answer (mode "ask")
    this.pending = null; // {action: "start" | "stop", recordingId}: a request awaiting its recording_state
    this.joined = false;
    this.online = false;
    this.reminderShown = false; // the reminder is offered once per page
    this.timer = null; // ticks the elapsed time while recording
    this.banner = null; // {indicator, notice, declined}: the banner's elements while a recording runs
    this.mediaWarning = null; // recording id whose robot receives no one's media (recording_media)
    this.codesLists = []; // the classroom's codes lists ([{name, codes}]), for who may record
    this.pausePending = null; // {action: "pause" | "resume", recordingId}: awaiting its recording_state
    this.naming = null; // the stopped recording whose name the name dialog asks for
    this.modes = null; // the modes of one classroom the admin allows (SINGLE_MODES order); null: not known
    this.sessions = new Map(); // session id -> {name, classrooms: [{id, name}]}, or null while asked for

    const e = elements;
    e.button.addEventListener("click", () => this._press());
    e.pauseButton?.addEventListener("click", () => this._pressPause());
    if (e.nameDialog) {
      e.nameForm.addEventListener("submit", (event) => {
        event.preventDefault();
        this._saveName();
      });
      e.nameCancel.addEventListener("click", () => closeDialog(e.nameDialog));
      e.nameDialog.addEventListener("close", () => {
        this.naming = null;
        if (!e.button.hidden) e.button.focus();
      });
    }
    // Lists edited in another tab (the classroom's settings) are there when the person comes back.
    if (e.codesSelect) {
      window.addEventListener("focus", () => this._loadCodesLists());
    }
    // So are the modes the admin changed meanwhile.
    if (e.modeSelect) {
      window.addEventListener("focus", () => this._loadModes());
    }
    if (e.sessionDialog) {
      e.sessionCancel.addEventListener("click", () => e.sessionDialog.close("cancel"));
      e.sessionStop.addEventListener("click", () => e.sessionDialog.close("stop"));
      e.sessionDialog.addEventListener("close", () => this._sessionDialogClosed());
    }
    this.bookmarks = e.bookmarks
      ? new BookmarkControls(e.bookmarks, {
          onNotice: (notice) => this.hooks.onNotice?.(notice),
          onError: (err) => this.hooks.onError(err),
        })
      : null;
    e.consentAccept.addEventListener("click", () => this._answerConsent(true));
    e.consentDecline.addEventListener("click", () => this._answerConsent(false));
    // Escape does not answer the consent question; each person says yes or no.
    e.consentDialog.addEventListener("cancel", (event) => event.preventDefault());
    e.reminderStart.addEventListener("click", () => {
      closeDialog(e.reminderDialog);
      if (this._control().action === "start") this._start();
    });
    e.reminderDismiss.addEventListener("click", () => closeDialog(e.reminderDialog));
  }

  get active() {
    return isActive(this.recording);
  }

  /** A join ack (also after a reconnect) says what runs now and what this person may do. */
  join(ack) {
    this.joined = true;
    this.self = ack.self;
    this.rights = ack.rights ?? { can_record: false };
    if (ack.consent) this.consent = ack.consent;
    this.pending = null;
    this.pausePending = null;
    // The ack's participants carry their consent for the recording it names: nothing to forget.
    this._show(ack.recording ?? null, { fresh: true });
    this._considerReminder(ack);
    this._loadCodesLists();
    this._loadModes();
  }

  /** The server changed what this person may do (rights_changed). */
  setRights(rights) {
    this.rights = rights ?? { can_record: false };
    this._renderButton();
    this._loadCodesLists();
    this._loadModes();
  }

  /** A `bookmark_added` event (to moderators): another moderator's bookmark is told. */
  bookmarkAdded(payload) {
    this.bookmarks?.bookmarkAdded(payload, this.self?.user_id ?? null);
  }

  /** This person's participant changed (e.g. the server now holds their consent answer). */
  setSelf(participant) {
    this.self = participant;
    this._considerConsent();
  }

  /** A `recording_state` event: the only news of the classroom's recording after the join. */
  recordingState({ recording, reason = null }) {
    const previous = this.recording;
    if (this.pending && this._settles(this.pending, recording)) this.pending = null;
    if (this.pausePending && this._pauseSettles(this.pausePending, recording)) this.pausePending = null;
    this._show(recording);
    if (isActive(previous) && previous.id === recording.id && !isActive(recording)) this._loadCodesLists();
    if (isActive(previous) && previous.id === recording.id) {
      const message = recordingEndMessage(recording, reason);
      if (message) this.hooks.onMessage(message);
    }
  }

  /** A `recording_media` event: what the robot receives; warning "no_media" when it receives no one. */
  recordingMedia({ recording_id: recordingId, warning }) {
    this.mediaWarning = warning === "no_media" ? recordingId : null;
    this._renderWarning();
  }

  /** Whether the controls may talk to the classroom (joined and connected). */
  setOnline(online) {
    this.online = online;
    this._renderButton();
  }

  /** Out of the classroom: nothing is asked any more, and nothing says the class is being recorded. */
  leave() {
    this.joined = false;
    this.recording = null;
    this.mediaWarning = null;
    this.pending = null;
    this.pausePending = null;
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
    this._renderWarning();
    this._renderBanner();
    this.setOnline(false);
    this.elements.button.hidden = true;
    closeDialog(this.elements.consentDialog);
    closeDialog(this.elements.reminderDialog);
    if (this.elements.sessionDialog) closeDialog(this.elements.sessionDialog);
    this._renderTools();
  }

  // ---- internals ----------------------------------------------------------------------------------

  _settles(pending, recording) {
    if (recording.id !== pending.recordingId) return true;
    return pending.action === "stop" && !BEFORE_STOP.includes(recording.state);
  }

  _pauseSettles(pending, recording) {
    if (recording.id !== pending.recordingId || !isActive(recording)) return true;
    return Boolean(recording.paused) === (pending.action === "pause");
  }

  _show(recording, { fresh = false } = {}) {
    const previous = this.recording;
    if (!fresh && recording && recording.id !== previous?.id) {
      // The server asks everyone anew for each recording; earlier answers are not carried over.
      if (this.self) this.self = { ...this.self, recording_consent: null };
      this.hooks.onNewRecording();
    }
    this.recording = recording;
    const active = this.active;
    if (!active || recording.id !== this.mediaWarning) this.mediaWarning = null;
    this._renderWarning();
    this._renderBanner();
    this._renderButton();
    if (active && this.timer === null) this.timer = setInterval(() => this._renderButton(), 1000);
    if (!active && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
    if (active) closeDialog(this.elements.reminderDialog);
    if (active && recording.session_id != null) this._loadSession(recording.session_id);
    this._considerSessionDialog();
    this.hooks.onActiveChanged(active);
    this._considerConsent();
  }

  _control() {
    const control = recControl(this.recording, this.rights, this.pending?.action ?? null);
    if (control.action === "start" && this.modes !== null && this.modes.length === 0) {
      return { ...control, action: null, reason: "The administrator allows no mode for recording one classroom." };
    }
    // Someone else's session: who records it, and which session it is.
    const session = this.pending ? null : this._session();
    if (session && control.action === null && control.reason) {
      const who = starterName(this.recording);
      const named = `the session “${session.name}” (${session.classrooms.map((c) => c.name).join(", ")})`;
      const reason =
        this.recording.state === "finishing"
          ? `Finishing ${named}, started by ${who}…`
          : `Recording ${named}, started by ${who}; only they or an admin can stop it.`;
      return { ...control, reason };
    }
    return control;
  }

  /** The persistent "Recording" indicator and the consent notice, while a recording runs. */
  _renderBanner() {
    const banner = this.elements.banner;
    if (!this.active) {
      if (this.banner) banner.replaceChildren();
      this.banner = null;
      return;
    }
    if (!this.banner) {
      const indicator = el(
        "p",
        { id: "recording-indicator", className: "recording-indicator" },
        el("span", { className: "rec-dot", "aria-hidden": "true" }),
        el("span", { className: "recording-indicator-text" }, "Recording"),
      );
      const notice = el("p", { id: "recording-notice", className: "recording-notice" });
      const declined = el("p", { id: "recording-declined", className: "recording-declined", hidden: true });
      declined.textContent = "You are not in the recording.";
      this.banner = { indicator, notice, declined };
      banner.replaceChildren(indicator, notice, declined);
    }
    // While paused nothing of the class is kept: everyone is told so in place of the indicator.
    const paused = isPaused(this.recording);
    const said = paused ? "Recording paused" : "Recording";
    const indicatorText = this.banner.indicator.querySelector(".recording-indicator-text");
    if (indicatorText.textContent !== said) indicatorText.textContent = said;
    this.banner.indicator.classList.toggle("paused", paused);
    const text = this.consent.text || "This class is being recorded.";
    if (this.banner.notice.textContent !== text) this.banner.notice.textContent = text;
    this.banner.declined.hidden = this.answers.get(this.recording.id) !== false;
  }

  /** The no-media warning, in its live region: added when it starts, removed when media arrives. */
  _renderWarning() {
    const region = this.elements.warning;
    if (!region) return;
    const shown = this.mediaWarning !== null && this.active && this.recording.id === this.mediaWarning;
    if (!shown) {
      if (region.firstChild) region.replaceChildren();
      return;
    }
    if (region.textContent !== NO_MEDIA_WARNING) region.replaceChildren(el("p", {}, NO_MEDIA_WARNING));
  }

  _renderButton() {
    const { button, text, elapsed: elapsedText, reason } = this.elements;
    // Those who may record see REC; the others learn of a recording from the indicator. A recording they
    // may stop is theirs to see too.
    const shown = Boolean(this.rights.can_record || (this.active && this.recording.can_stop));
    button.hidden = !shown;
    this._renderTools();
    if (!shown) {
      showMessage(reason, "");
      return;
    }
    const control = this._control();
    const active = this.active;
    const elapsed = active ? formatDuration(elapsedMs(this.recording)) : "";
    // The name starts with what the button reads ("REC", "Stop REC 0:01:02"), then says what it does.
    const shownText = elapsed ? `${control.text} ${elapsed}` : control.text;
    button.setAttribute("aria-label", `${shownText} — ${control.label.toLowerCase()}`);
    button.classList.toggle("recording", active);
    text.textContent = control.text;
    elapsedText.textContent = elapsed;
    elapsedText.hidden = !elapsed;
    button.disabled = !this.online || control.action === null;
    button.dataset.action = control.action ?? "";
    showMessage(reason, control.reason);
  }

  async _press() {
    const action = this._control().action;
    if (action === "start") await this._start();
    else if (action === "stop" && this._session() && this.elements.sessionDialog) this._askStopSession();
    else if (action === "stop") await this._stop();
  }

  async _start() {
    const picked = this._pickedCodesList();
    const body = picked ? { codes_list: picked } : {};
    const mode = this._pickedMode();
    if (mode) body.mode = mode;
    const path = `/api/classrooms/${encodeURIComponent(this.hooks.classroomId)}/recording`;
    await this._request("start", () => request("POST", path, body));
  }

  /**
   * Stops at once; then, with the moderator's setting `edit_name_on_stop` on, asks for the name of the
   * recording just saved (the file is ready either way). The setting is read as Stop is pressed, so a
   * change made on the Settings page meanwhile counts.
   */
  async _stop() {
    const settings = getSettings().catch(() => null);
    const stopped = await this._request("stop", () => stopRecording(this.hooks.classroomId));
    if (!stopped || stopped.state === "failed") return;
    if ((await settings)?.edit_name_on_stop) this._askName(stopped);
  }

  /**
   * Sends a start or stop; the button waits for the recording_state that follows, or for the error.
   * Returns the answer, or null when it failed.
   */
  async _request(action, send) {
    const pending = { action, recordingId: this.recording?.id ?? null };
    this.pending = pending;
    this._renderButton();
    try {
      const answer = await send();
      this.hooks.onSuccess();
      return answer?.recording ?? answer;
    } catch (err) {
      if (this.pending === pending) this.pending = null;
      this._renderButton();
      this.hooks.onError(err);
      // The admin changed the modes since they were read: offer those allowed now.
      if (err.code === "mode_refused") this._loadModes();
      return null;
    }
  }

  /** The row of recording tools, shown while it holds one: the codes list picker, Pause, bookmarks. */
  _renderTools() {
    this._renderPause();
    this._renderModePick();
    this._renderCodesPick();
    this.bookmarks?.update({ recording: this.recording, rights: this.rights, online: this.online });
    const tools = this.elements.tools;
    if (tools) tools.hidden = ![...tools.children].some((child) => !child.hidden);
  }

  // ---- pause and resume ----

  _renderPause() {
    const button = this.elements.pauseButton;
    if (!button) return;
    const control = pauseControl(this.recording, this.pausePending?.action ?? null);
    button.hidden = control === null;
    if (!control) return;
    button.querySelector(".tool-label").textContent = control.text;
    button.setAttribute("aria-label", control.label);
    const icon = button.querySelector(".icon");
    icon.classList.toggle("icon-rec-pause", !this.recording.paused);
    icon.classList.toggle("icon-rec-resume", Boolean(this.recording.paused));
    // Offline it is disabled; while a pause or resume is pending it stays focusable (aria-disabled, clicks
    // ignored), so the focus of who pressed it is not dropped, and it reads "Resume" or "Pause" once settled.
    button.disabled = !this.online;
    if (control.action === null) button.setAttribute("aria-disabled", "true");
    else button.removeAttribute("aria-disabled");
    button.dataset.action = control.action ?? "";
  }

  async _pressPause() {
    const control = pauseControl(this.recording, this.pausePending?.action ?? null);
    if (!control?.action) return;
    const pending = { action: control.action, recordingId: this.recording.id };
    this.pausePending = pending;
    this._renderPause();
    const path = `/api/classrooms/${encodeURIComponent(this.hooks.classroomId)}/recording/${control.action}`;
    try {
      await request("POST", path);
      this.hooks.onSuccess();
    } catch (err) {
      if (this.pausePending === pending) this.pausePending = null;
      this._renderPause();
      this.hooks.onError(err);
    }
  }

  // ---- the codes list picked before REC ----

  /** Reads the classroom's codes lists for who may record (they pick one before REC). */
  async _loadCodesLists() {
    if (!this.elements.codesSelect) return;
    if (!this.joined || !this.rights.can_record) {
      this.codesLists = [];
      this._renderTools();
      return;
    }
    const path = `/api/classrooms/${encodeURIComponent(this.hooks.classroomId)}/codes`;
    try {
      const answer = await request("GET", path);
      this.codesLists = Array.isArray(answer?.lists) ? answer.lists : [];
    } catch (err) {
      // Without its lists REC still works, with no codes list; only a lost session is worth saying.
      if (err.code === "unauthorized") this.hooks.onError(err);
      this.codesLists = [];
    }
    this._renderTools();
  }

  _pickedCodesList() {
    const select = this.elements.codesSelect;
    if (!select || this.elements.codesPick.hidden) return null;
    return select.value || null;
  }

  /** The picker beside REC: shown to who may record, before REC, when the classroom has codes lists. */
  _renderCodesPick() {
    const { codesPick: pick, codesSelect: select } = this.elements;
    if (!select) return;
    const shown = this.joined && Boolean(this.rights.can_record) && !this.active && this.codesLists.length > 0;
    pick.hidden = !shown;
    const names = ["", ...this.codesLists.map((list) => list.name)];
    const current = [...select.options].map((option) => option.value);
    if (names.join("\n") !== current.join("\n")) {
      const chosen = select.value;
      select.replaceChildren(
        el("option", { value: "" }, "No codes list"),
        ...this.codesLists.map((list) => el("option", { value: list.name }, list.name)),
      );
      select.value = names.includes(chosen) ? chosen : "";
    }
    select.disabled = !this.online || this.pending !== null;
  }

  // ---- the recording mode picked before REC ----

  /** Reads the modes the admin allows, for who may record (they pick one before REC when there is a choice). */
  async _loadModes() {
    if (!this.elements.modeSelect) return;
    if (!this.joined || !this.rights.can_record) {
      this.modes = null;
      this._renderButton();
      return;
    }
    try {
      const answer = await request("GET", "/api/recording-modes");
      const allowed = Array.isArray(answer?.allowed) ? answer.allowed : [];
      this.modes = SINGLE_MODES.filter((mode) => allowed.includes(mode));
    } catch (err) {
      // Without them REC still works, in the server's default mode; only a lost session is worth saying.
      if (err.code === "unauthorized") this.hooks.onError(err);
      this.modes = null;
    }
    this._renderButton();
  }

  /** The mode REC asks for: the one picked, the only one allowed, or null (the server's default). */
  _pickedMode() {
    if (!this.modes?.length) return null;
    if (this.modes.length === 1) return this.modes[0];
    const value = this.elements.modeSelect?.value;
    return this.modes.includes(value) ? value : this.modes[0];
  }

  /** The mode picker beside REC: shown to who may record, before REC, when the admin allows several modes. */
  _renderModePick() {
    const { modePick: pick, modeSelect: select } = this.elements;
    if (!select) return;
    const modes = this.modes ?? [];
    pick.hidden = !(this.joined && Boolean(this.rights.can_record) && !this.active && modes.length > 1);
    const current = [...select.options].map((option) => option.value);
    if (modes.length && modes.join("\n") !== current.join("\n")) {
      const chosen = select.value;
      select.replaceChildren(...modes.map((mode) => el("option", { value: mode }, MODE_LABELS[mode])));
      select.value = modes.includes(chosen) ? chosen : modes.includes("composite") ? "composite" : modes[0];
    }
    select.disabled = !this.online || this.pending !== null;
  }

  // ---- a session's recording: "Stop the whole session?" ----

  /** The session the classroom's running recording belongs to: {name, classrooms}, or null. */
  _session() {
    const recording = this.recording;
    if (!isActive(recording) || recording.session_id === null || recording.session_id === undefined) return null;
    const known = this.sessions.get(recording.session_id);
    const own = Array.isArray(recording.classrooms) ? recording.classrooms : [];
    return {
      name: known?.name || recording.name,
      classrooms: known?.classrooms?.length ? known.classrooms : own,
    };
  }

  /** Reads a session's name and classrooms once (a separate session's recording holds only its own). */
  async _loadSession(sessionId) {
    if (this.sessions.has(sessionId)) return;
    this.sessions.set(sessionId, null);
    try {
      const answer = await request("GET", `/api/recording-sessions/${encodeURIComponent(sessionId)}`);
      const session = answer?.session;
      const classrooms = Array.isArray(session?.classrooms) ? session.classrooms : [];
      this.sessions.set(sessionId, { name: session?.name ?? "", classrooms });
    } catch (err) {
      // Those who may not view its recordings still see what the recording itself says; a failed
      // fetch is not remembered: the next update asks again.
      this.sessions.delete(sessionId);
      if (err.code === "unauthorized") this.hooks.onError(err);
      return;
    }
    this._renderButton();
    this._fillSessionDialog();
  }

  _askStopSession() {
    const dialog = this.elements.sessionDialog;
    if (dialog.open) return;
    dialog.dataset.recordingId = this.recording.id;
    dialog.returnValue = ""; // Escape keeps the last answer: it must not be an earlier "stop"
    this._fillSessionDialog();
    dialog.showModal();
    this.elements.sessionCancel.focus();
  }

  _fillSessionDialog() {
    const e = this.elements;
    const session = this._session();
    if (!e.sessionDialog || !session) return;
    const count = session.classrooms.length;
    e.sessionText.textContent =
      count > 1
        ? `“${session.name}” records ${count} classrooms. Stopping here stops the recording in every one of them; each recording is saved.`
        : `“${session.name}” is a session over several classrooms. Stopping here stops the recording in every one of them; each recording is saved.`;
    e.sessionClassrooms.replaceChildren(...session.classrooms.map((classroom) => el("li", {}, classroom.name)));
    e.sessionClassrooms.hidden = count === 0;
  }

  /** The session's recording ended or changed while its question was open: nothing is left to ask. */
  _considerSessionDialog() {
    const dialog = this.elements.sessionDialog;
    if (!dialog?.open) return;
    if (!this.active || String(this.recording.id) !== dialog.dataset.recordingId) dialog.close("cancel");
  }

  _sessionDialogClosed() {
    const dialog = this.elements.sessionDialog;
    const asked = dialog.dataset.recordingId;
    delete dialog.dataset.recordingId;
    if (!this.elements.button.hidden) this.elements.button.focus();
    if (dialog.returnValue !== "stop" || !this.active || String(this.recording.id) !== asked) return;
    if (this._control().action === "stop") this._stop();
  }

  // ---- the name asked on Stop ----

  _askName(recording) {
    const e = this.elements;
    if (!e.nameDialog || e.nameDialog.open) return;
    this.naming = recording;
    clearFieldErrors(e.nameForm);
    showMessage(e.nameError, "");
    e.nameInput.value = recording.name;
    e.nameDialog.showModal();
    e.nameInput.focus();
    e.nameInput.select();
  }

  async _saveName() {
    const e = this.elements;
    const recording = this.naming;
    if (!recording) return;
    const name = e.nameInput.value.trim();
    if (name === recording.name) {
      closeDialog(e.nameDialog);
      return;
    }
    clearFieldErrors(e.nameForm);
    showMessage(e.nameError, "");
    if (!name) {
      // Said before asking the server, which would name the field in its own words.
      showFieldErrors(e.nameForm, { fields: { name: "Give the recording a name, or keep this one." } });
      return;
    }
    const save = e.nameForm.querySelector("button[type=submit]");
    save.disabled = true;
    try {
      const renamed = await updateRecording(recording.id, { name });
      closeDialog(e.nameDialog);
      this.hooks.onMessage({
        text: `The recording “${renamed.name}” is saved in Resources → Recorded Classes.`,
        alert: false,
      });
    } catch (err) {
      if (err.code === "unauthorized") {
        this.hooks.onError(err);
        return;
      }
      showMessage(e.nameError, reportFormError(e.nameForm, err));
    } finally {
      save.disabled = false;
    }
  }

  /** With consent mode "ask", everyone answers once per recording (again after a reconnect, unasked). */
  _considerConsent() {
    const recording = this.recording;
    const dialog = this.elements.consentDialog;
    const asking = this.consent.mode === "ask" && this.joined && this.active && recording.state !== "finishing";
    if (!asking) {
      closeDialog(dialog);
      return;
    }
    // The server may already hold this person's answer (it says so in their participant).
    const known = this.self?.recording_consent;
    if (!this.answers.has(recording.id) && typeof known === "boolean") {
      this.answers.set(recording.id, known);
      this._renderBanner();
    }
    if (this.answers.has(recording.id)) {
      const answer = this.answers.get(recording.id);
      // A reconnect makes a new participant on the server, which has not heard our answer yet.
      if (this.self && this.self.recording_consent !== answer) this._sendConsent(answer);
      return;
    }
    if (dialog.open) return;
    dialog.dataset.recordingId = recording.id;
    this.elements.consentText.textContent = this.consent.text;
    dialog.showModal();
  }

  _answerConsent(accepted) {
    const dialog = this.elements.consentDialog;
    const recordingId = Number(dialog.dataset.recordingId);
    closeDialog(dialog);
    if (!this.active || this.recording.id !== recordingId) return;
    this.answers.set(recordingId, accepted);
    this._renderBanner();
    this._sendConsent(accepted);
  }

  async _sendConsent(accepted) {
    // Sent once per difference: the server's participant_updated then says it holds the answer.
    if (this.self) this.self = { ...this.self, recording_consent: accepted };
    try {
      await this.hooks.connection.recordingConsent(accepted);
      this.hooks.onSuccess();
    } catch (err) {
      // Kept in this.answers: sent again when the classroom is joined again.
      if (this.self) this.self = { ...this.self, recording_consent: null };
      if (err.code !== "not_found") this.hooks.onError(err);
    }
  }

  /** Someone who may record, with the reminder on, enters a classroom that is not recording: offer REC once. */
  _considerReminder(ack) {
    if (!ack.reminder || this.reminderShown || this.active || !this.rights.can_record) return;
    this.reminderShown = true;
    this.elements.reminderDialog.showModal();
  }
}

function closeDialog(dialog) {
  if (dialog.open) dialog.close();
}
