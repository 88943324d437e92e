// Replay into the live classroom (docs/protocol.md, "/api/classrooms/{id}/replay" and `replay_state`).
// Everyone sees the banner "Replay of … is playing" while one plays; moderators also get the panel to pick a
// recording of this classroom (or one chapter of it), loop it, and pause, resume or stop it. The page locks
// its layout to the replay's tile from `onChange` (web/js/classroom.js, web/js/stage.js).
import { request } from "/static/js/api.js";
import { formatDateTime, recordingLabels } from "/static/js/recording.js";


const WHOLE = "";

/** The banner's sentence for a replay (null: nothing plays). */
export function replaySentence(replay) {
  if (!replay) return "";
  const name = `“${replay.name}”`;
  if (replay.state === "paused") return `Replay of ${name} is paused. The layout stays on it until it is stopped.`;
  if (replay.state === "starting") return `Replay of ${name} is starting…`;
  return `Replay of ${name} is playing. Everyone sees it; the layout follows it until it ends.`;
}

export class ReplayControls {
  /**
   * @param elements.banner the status line everyone sees while a replay plays
   * @param elements.section the moderators' panel; .form, .recording, .chapter, .loop, .start, .pause,
   *   .stop, .error its parts
   * @param options.classroomId this classroom
   * @param options.onChange (replay|null) => void: the replay started, changed or ended
   */
  constructor(elements, { classroomId, onChange = () => {} }) {
    this.el = elements;
    this.classroomId = classroomId;
    this.onChange = onChange;
    this.current = null;
    this.canModerate = false;
    this._recordings = [];
    this._base = `/api/classrooms/${encodeURIComponent(classroomId)}/replay`;
    elements.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this._start();
    });
    elements.recording.addEventListener("change", () => this._loadChapters());
    elements.pause.addEventListener("click", () =>
      this._act(elements.pause, this.current?.state === "paused" ? "resume" : "pause"),
    );
    elements.stop.addEventListener("click", () => this._act(elements.stop, "stop"));
  }

  /** After every join ack: rights, and the replay that may already be playing. */
  async join(ack) {
    this.setRights(ack.rights);
    try {
      const { replay } = await request("GET", this._base);
      this.replayState({ replay });
    } catch {
      // The next replay_state tells.
    }
  }

  leave() {
    this.replayState({ replay: null });
    this.el.section.hidden = true;
  }

  setRights(rights) {
    const was = this.canModerate;
    this.canModerate = Boolean(rights?.can_moderate);
    this.el.section.hidden = !this.canModerate;
    if (this.canModerate && !was) this._loadRecordings();
  }

  /** `replay_state` from the server (also the GET at join). */
  replayState({ replay }) {
    this.current = replay ?? null;
    const { banner, form, pause, stop, start, recording, section } = this.el;
    // Focus inside the panel stays there: on the control that replaces one now hidden.
    const focused = section.contains(document.activeElement) ? document.activeElement : null;
    banner.textContent = replaySentence(this.current);
    banner.hidden = !this.current;
    form.hidden = Boolean(this.current);
    pause.hidden = stop.hidden = !this.current;
    if (this.current) {
      pause.textContent = this.current.state === "paused" ? "Resume replay" : "Pause replay";
      pause.disabled = stop.disabled = false;
    }
    if (focused && focused.closest("[hidden]")) {
      if (this.current) pause.focus();
      else if (!start.disabled) start.focus();
      else recording.focus();
    }
    this.onChange(this.current);
  }

  /** A recording of this classroom may have become ready (after `recording_state`): offer it too. */
  recordingsChanged(recordingBody) {
    if (this.canModerate && recordingBody?.state === "ready") this._loadRecordings();
  }

  async _loadRecordings() {
    const { recording } = this.el;
    const chosen = recording.value;
    try {
      const { recordings } = await request("GET", "/api/recordings");
      this._recordings = recordings.filter((r) => r.classroom?.id === this.classroomId && r.state === "ready");
    } catch {
      this._recordings = [];
    }
    // Each by its name; with its start date and time when others share that name (as Recorded Classes).
    const labels = recordingLabels(this._recordings, formatDateTime);
    recording.replaceChildren(...this._recordings.map((r) => new Option(labels.get(r.id), String(r.id))));
    const none = this._recordings.length === 0;
    recording.disabled = this.el.start.disabled = none;
    // The select is as narrow as the panel: the sentence saying there are none is a paragraph that wraps.
    const noneText = this.el.section.querySelector("#replay-none");
    if (noneText) noneText.hidden = !none;
    if (none) recording.append(new Option("None yet", ""));
    else if (this._recordings.some((r) => String(r.id) === chosen)) recording.value = chosen;
    this._loadChapters();
  }

  async _loadChapters() {
    const { chapter, recording } = this.el;
    chapter.replaceChildren(new Option("The whole recording", WHOLE));
    const id = recording.value;
    if (!id) return;
    try {
      const { chapters } = await request("GET", `/api/recordings/${encodeURIComponent(id)}/chapters`);
      for (const c of chapters) {
        if (c.bookmark_id !== null && c.bookmark_id !== undefined) chapter.append(new Option(c.title, String(c.bookmark_id)));
      }
    } catch {
      // No chapters to offer: the whole recording still plays.
    }
  }

  async _start() {
    const { recording, chapter, loop, start } = this.el;
    if (!recording.value) return;
    const body = { recording_id: Number(recording.value), loop: loop.checked };
    if (chapter.value !== WHOLE) body.bookmark_id = Number(chapter.value);
    await this._call(start, "POST", this._base, body);
  }

  async _act(button, action) {
    await this._call(button, "POST", `${this._base}/${action}`);
  }

  async _call(button, method, path, body) {
    // Pending, the button stays focusable (aria-disabled) and a second press is ignored.
    if (button.getAttribute("aria-disabled") === "true") return;
    this.el.error.textContent = "";
    button.setAttribute("aria-disabled", "true");
    try {
      const { replay } = await request(method, path, body);
      if (path.endsWith("/stop")) this.replayState({ replay: null });
      else this.replayState({ replay });
    } catch (err) {
      this.el.error.textContent = err.message || "That did not work. Please try again.";
    } finally {
      button.removeAttribute("aria-disabled");
    }
  }
}
