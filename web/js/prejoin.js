// The check before entering a classroom: a camera preview, a microphone level meter, the choice of camera
// and microphone, and whether to join with each on. Joining hands the tracks it opened to the page, which
// publishes them as they are (a device turned off here is neither opened nor published).
import { captureProblem, cameraConstraints, deviceOf, fillSelect, LevelMeter, listDevices } from "/static/js/devices.js";

export class PreJoin {
  /**
   * @param elements {section, video, noCamera, cameraOn, camera, micOn, microphone, level, problem, join,
   *   seats, cameraDenied, micDenied}
   */
  constructor(elements) {
    this.elements = elements;
    this.tracks = {}; // {camera, microphone}: what the preview holds open now
    this.meter = new LevelMeter(elements.level);
    this._problems = {};
    this._joined = null;
    this._denied = {}; // source -> true: the classroom does not let this person send it
    this._hasDevice = { camera: true, microphone: true };
    const e = elements;
    e.cameraOn.addEventListener("change", () => this._toggle("camera", e.cameraOn.checked));
    e.micOn.addEventListener("change", () => this._toggle("microphone", e.micOn.checked));
    e.camera.addEventListener("change", () => this._open("camera"));
    e.microphone.addEventListener("change", () => this._open("microphone"));
  }

  /**
   * Shows the check and resolves when the person presses Join: {tracks, devices, on, available, problem}:
   * the tracks to publish ({camera, microphone}, either may be missing), the chosen device ids, whether
   * each was left on, whether the browser offers each at all, and why something wanted is missing (or null).
   */
  async run() {
    const e = this.elements;
    e.section.hidden = false;
    e.join.disabled = true;
    const joined = new Promise((resolve) => {
      this._joined = resolve;
    });
    e.join.addEventListener("click", () => this._join(), { once: true });
    await this._openBoth();
    await this._listDevices();
    e.join.disabled = false;
    e.join.focus();
    return joined;
  }

  /**
   * What the classroom says before joining (GET /api/classrooms/{id}): for a student, its seats (and whether
   * it is full) and the sources its students may not send, which are shown off, disabled and why. The
   * server decides again at the join; this only spares the person a check that cannot be used.
   */
  setClassroom(classroom) {
    const e = this.elements;
    if (classroom.can_moderate) return;
    if (e.seats && classroom.seat_limit != null && classroom.seats_used != null) {
      const full = classroom.seats_used >= classroom.seat_limit;
      e.seats.textContent =
        `Student seats: ${classroom.seats_used} / ${classroom.seat_limit}` +
        (full ? ". This classroom is full: you can join when a seat is free." : "");
      e.seats.hidden = false;
    }
    const media = classroom.student_media ?? {};
    for (const source of ["camera", "microphone"]) {
      if (media[source] !== false) continue;
      this._denied[source] = true;
      this._set(source, null);
      this._applyDenied(source);
    }
    this._render();
  }

  /** Takes the check off the page and stops whatever it still holds (after a refused join, say). */
  close() {
    this.meter.stop();
    this.elements.section.hidden = true;
    this.elements.video.srcObject = null;
  }

  // ---- internals ----------------------------------------------------------------------------------

  async _openBoth() {
    const devices = navigator.mediaDevices;
    if (!devices?.getUserMedia) {
      this._problems.all = "This page cannot use a camera or microphone: you can watch and listen only.";
      this._render();
      return;
    }
    // One request for both, so the browser asks once; then each alone, so one missing device spares the other.
    try {
      const stream = await devices.getUserMedia({ audio: true, video: cameraConstraints(null) });
      this._set("camera", stream.getVideoTracks()[0] ?? null);
      this._set("microphone", stream.getAudioTracks()[0] ?? null);
    } catch (err) {
      if (err.name === "NotAllowedError" || err.name === "SecurityError") {
        this._problems.all =
          "Camera and microphone are not allowed: you can watch and listen, but the others cannot see or hear you.";
      } else {
        await this._open("camera");
        await this._open("microphone");
        if (!this.tracks.camera && !this.tracks.microphone) {
          this._problems.all =
            "No camera or microphone found: you can watch and listen, but the others cannot see or hear you.";
        }
      }
    }
    this._render();
  }

  async _listDevices() {
    const { cameras, microphones } = await listDevices();
    const e = this.elements;
    fillSelect(e.camera, cameras, deviceOf(this.tracks.camera), "No camera");
    fillSelect(e.microphone, microphones, deviceOf(this.tracks.microphone), "No microphone");
    if (cameras.length === 0) e.cameraOn.checked = false;
    if (microphones.length === 0) e.micOn.checked = false;
    e.cameraOn.disabled = cameras.length === 0;
    e.micOn.disabled = microphones.length === 0;
    this._hasDevice = { camera: cameras.length > 0, microphone: microphones.length > 0 };
    for (const source of Object.keys(this._denied)) this._applyDenied(source);
    this._render();
  }

  async _toggle(source, on) {
    if (on) await this._open(source);
    else this._set(source, null);
    this._render();
  }

  /** Opens the chosen device of `source` (replacing what the preview held), if that source is on. */
  async _open(source) {
    const e = this.elements;
    const on = source === "camera" ? e.cameraOn.checked : e.micOn.checked;
    if (!on) return;
    const select = source === "camera" ? e.camera : e.microphone;
    const deviceId = select.value || null;
    this._set(source, null);
    try {
      const stream = await navigator.mediaDevices.getUserMedia(
        source === "camera"
          ? { audio: false, video: cameraConstraints(deviceId) }
          : { audio: deviceId ? { deviceId: { exact: deviceId } } : true, video: false },
      );
      const track = source === "camera" ? stream.getVideoTracks()[0] : stream.getAudioTracks()[0];
      this._set(source, track ?? null);
      delete this._problems[source];
    } catch (err) {
      this._problems[source] = captureProblem(err, source);
    }
    this._render();
  }

  /** A source the moderator does not allow: unticked, disabled, and its label says why. */
  _applyDenied(source) {
    const e = this.elements;
    const box = source === "camera" ? e.cameraOn : e.micOn;
    box.checked = false;
    box.disabled = true;
    (source === "camera" ? e.camera : e.microphone).disabled = true;
    const reason = source === "camera" ? e.cameraDenied : e.micDenied;
    if (reason) reason.hidden = false;
  }

  _set(source, track) {
    if (track && this._denied[source]) {
      track.stop();
      track = null;
    }
    const previous = this.tracks[source];
    if (previous && previous !== track) previous.stop();
    if (track) this.tracks[source] = track;
    else delete this.tracks[source];
    if (source === "camera") {
      this.elements.video.srcObject = track ? new MediaStream([track]) : null;
    } else {
      this.meter.setTrack(track);
    }
  }

  _render() {
    const e = this.elements;
    e.noCamera.hidden = Boolean(this.tracks.camera);
    e.noCamera.textContent = this._denied.camera ? "Camera not allowed" : e.cameraOn.checked ? "No camera" : "Camera off";
    const problem = this._problems.all ?? this._problems.camera ?? this._problems.microphone ?? "";
    if (e.problem.textContent !== problem) e.problem.textContent = problem;
  }

  _join() {
    const e = this.elements;
    const tracks = { ...this.tracks };
    const devices = { camera: e.camera.value || null, microphone: e.microphone.value || null };
    const on = { camera: e.cameraOn.checked, microphone: e.micOn.checked };
    const available = { ...this._hasDevice };
    let problem = this._problems.all ?? null;
    if (!problem && e.cameraOn.checked && !tracks.camera) {
      problem = "No camera available: the others hear you but cannot see you.";
    }
    if (!problem && e.micOn.checked && !tracks.microphone) {
      problem = "No microphone available: the others see you but cannot hear you.";
    }
    // The tracks now belong to the page: closing the check must not stop them.
    this.tracks = {};
    this.meter.stop();
    e.video.srcObject = null;
    e.section.hidden = true;
    this._joined({ tracks, devices, on, available, problem });
  }
}
