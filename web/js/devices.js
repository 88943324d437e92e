// Cameras and microphones: listing them (enumerateDevices), capturing the one chosen, a microphone level
// meter, and the toolbar's Devices menu that switches them during a class. The page swaps a switched track
// into its peer connection with RTCRtpSender.replaceTrack (MediaSession.replaceTrack): no renegotiation.

// Enough for a classroom tile; the browser picks the nearest its camera offers.
export const CAMERA_CONSTRAINTS = Object.freeze({
  width: { ideal: 640 },
  height: { ideal: 480 },
  frameRate: { ideal: 24 },
});

/** {cameras, microphones}: the devices the browser offers ([] where it offers none or cannot list). */
export async function listDevices() {
  const devices = (await navigator.mediaDevices?.enumerateDevices?.()) ?? [];
  return {
    cameras: devices.filter((device) => device.kind === "videoinput" && device.deviceId),
    microphones: devices.filter((device) => device.kind === "audioinput" && device.deviceId),
  };
}

/** Fills a <select> with devices ("Camera 1" where the browser hides names), keeping `selected` if listed. */
export function fillSelect(select, devices, selected, noneLabel) {
  const options = devices.map((device, index) => {
    const option = document.createElement("option");
    option.value = device.deviceId;
    option.textContent = device.label || `${noneLabel === "No camera" ? "Camera" : "Microphone"} ${index + 1}`;
    return option;
  });
  if (options.length === 0) {
    const none = document.createElement("option");
    none.value = "";
    none.textContent = noneLabel;
    options.push(none);
  }
  select.replaceChildren(...options);
  select.disabled = devices.length === 0;
  if (selected && devices.some((device) => device.deviceId === selected)) select.value = selected;
}

/** The video constraints for `deviceId` (any camera when null). */
export function cameraConstraints(deviceId) {
  return deviceId ? { ...CAMERA_CONSTRAINTS, deviceId: { exact: deviceId } } : { ...CAMERA_CONSTRAINTS };
}

export function microphoneConstraints(deviceId) {
  return deviceId ? { deviceId: { exact: deviceId } } : true;
}

/** One new track from the chosen device: source "camera" or "microphone". */
export async function captureTrack(source, deviceId) {
  const constraints =
    source === "camera"
      ? { audio: false, video: cameraConstraints(deviceId) }
      : { audio: microphoneConstraints(deviceId), video: false };
  const stream = await navigator.mediaDevices.getUserMedia(constraints);
  const [track] = source === "camera" ? stream.getVideoTracks() : stream.getAudioTracks();
  return track;
}

/** The device a track comes from ("" when the browser does not say). */
export function deviceOf(track) {
  return track?.getSettings?.().deviceId ?? "";
}

/** What to tell someone whose device could not be opened. */
export function captureProblem(err, source) {
  const what = source === "camera" ? "camera" : "microphone";
  if (err?.name === "NotAllowedError" || err?.name === "SecurityError") {
    return `The ${what} is not allowed in this browser: allow it in the address bar, then try again.`;
  }
  if (err?.name === "NotReadableError") return `The ${what} is in use by another program or could not start.`;
  if (err?.name === "NotFoundError" || err?.name === "OverconstrainedError") return `That ${what} is not available.`;
  return `The ${what} could not start: ${err?.message ?? err}`;
}

/**
 * Shows how loud a microphone track is in a <meter> (0 to 1), about 20 times a second, from an
 * AnalyserNode. Browsers that hold back audio until the user interacts start it on the first click or key.
 */
export class LevelMeter {
  constructor(meter) {
    this.meter = meter;
    this.context = null;
    this.source = null;
    this.analyser = null;
    this.timer = null;
    this._resume = () => this.context?.resume().catch(() => {});
  }

  /** Measures `track` (null: nothing; the meter shows 0). */
  setTrack(track) {
    this.stop();
    if (!track || !globalThis.AudioContext) return;
    this.context = new AudioContext();
    this.source = this.context.createMediaStreamSource(new MediaStream([track]));
    this.analyser = this.context.createAnalyser();
    this.analyser.fftSize = 1024;
    this.source.connect(this.analyser);
    const samples = new Float32Array(this.analyser.fftSize);
    if (this.context.state === "suspended") {
      this._resume();
      document.addEventListener("pointerdown", this._resume, { once: true });
      document.addEventListener("keydown", this._resume, { once: true });
    }
    this.timer = setInterval(() => {
      this.analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const sample of samples) sum += sample * sample;
      // RMS of speech is around 0.05 to 0.2: scaled so normal speech fills most of the meter.
      this.meter.value = Math.min(1, Math.sqrt(sum / samples.length) * 4);
    }, 50);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    document.removeEventListener("pointerdown", this._resume);
    document.removeEventListener("keydown", this._resume);
    this.source?.disconnect();
    this.context?.close().catch(() => {});
    this.context = null;
    this.source = null;
    this.analyser = null;
    this.meter.value = 0;
  }
}

/**
 * The toolbar's Devices menu: a camera and a microphone <select>; `onSwitch(source, deviceId)` does the
 * switch (and may throw: its message is shown in the menu).
 */
export class DeviceMenu {
  /**
   * @param elements {button, menu, camera, microphone, problem, close}
   * @param options.onSwitch async (source, deviceId) => void
   * @param options.current () => ({camera, microphone}): the device ids in use (or chosen) now
   */
  constructor(elements, { onSwitch, current }) {
    this.elements = elements;
    this._onSwitch = onSwitch;
    this._current = current;
    const { button, menu, camera, microphone, close } = elements;
    button.addEventListener("click", () => (menu.hidden ? this.open() : this.close()));
    close.addEventListener("click", () => this.close({ focus: true }));
    menu.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.close({ focus: true });
    });
    camera.addEventListener("change", () => this._switch("camera", camera));
    microphone.addEventListener("change", () => this._switch("microphone", microphone));
    navigator.mediaDevices?.addEventListener?.("devicechange", () => {
      if (!menu.hidden) this.refresh();
    });
  }

  async open() {
    const { button, menu, camera } = this.elements;
    menu.hidden = false;
    button.setAttribute("aria-expanded", "true");
    await this.refresh();
    camera.disabled ? this.elements.microphone.focus() : camera.focus();
  }

  close({ focus = false } = {}) {
    const { button, menu } = this.elements;
    menu.hidden = true;
    button.setAttribute("aria-expanded", "false");
    if (focus) button.focus();
  }

  async refresh() {
    const { cameras, microphones } = await listDevices();
    const current = this._current();
    fillSelect(this.elements.camera, cameras, current.camera, "No camera");
    fillSelect(this.elements.microphone, microphones, current.microphone, "No microphone");
  }

  async _switch(source, select) {
    const { problem } = this.elements;
    problem.textContent = "";
    select.disabled = true;
    try {
      await this._onSwitch(source, select.value);
    } catch (err) {
      problem.textContent = captureProblem(err, source);
      await this.refresh();
    } finally {
      select.disabled = select.options.length === 0 || select.options[0].value === "";
    }
  }
}
