// What a participant's microphone and camera show the others, as the server tells everyone: "on", "muted"
// or "off" (not published); and the icons with their accessible names that the participant list and the
// video tiles share.

export const MIC_LABELS = Object.freeze({ on: "Microphone on", muted: "Microphone muted", off: "No microphone" });
export const CAMERA_LABELS = Object.freeze({ on: "Camera on", muted: "Camera off", off: "No camera" });
export const MIC_ICONS = Object.freeze({
  on: "/static/img/mic.svg",
  muted: "/static/img/mic-off.svg",
  off: "/static/img/mic-off.svg",
});
export const CAMERA_ICONS = Object.freeze({
  on: "/static/img/camera.svg",
  muted: "/static/img/camera-off.svg",
  off: "/static/img/camera-off.svg",
});

export function micState(participant) {
  if (!(participant.publishing ?? []).includes("microphone")) return "off";
  return participant.audio_muted ? "muted" : "on";
}

export function cameraState(participant) {
  if (!(participant.publishing ?? []).includes("camera")) return "off";
  return participant.video_muted ? "muted" : "on";
}

/** Shows `value` ("on", "muted", "off") in an <img>: its name for screen readers, its picture for the eye. */
export function setIcon(icon, label, src, value) {
  icon.alt = label;
  if (icon.getAttribute("src") !== src) icon.src = src;
  icon.dataset.state = value;
}
