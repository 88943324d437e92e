// REC in the browser (docs/protocol.md, "Recording"): recording states, who may press REC, and how
// recordings are shown. DOM-free, so the classroom and Recorded Classes pages share it and node tests run it.

/** A recording in one of these states is running: the classroom shows it as recorded. */
export const ACTIVE_STATES = Object.freeze(["starting", "recording", "finishing"]);

// starting → recording → finishing → ready | failed; a state never goes back.
const STATE_ORDER = Object.freeze({ starting: 0, recording: 1, finishing: 2, ready: 3, failed: 3 });

/** What the Recorded Classes page shows for each flag. */
export const FLAG_LABELS = Object.freeze({ recovered: "recovered", disk_full: "disk full" });

export function isActive(recording) {
  return Boolean(recording) && ACTIVE_STATES.includes(recording.state);
}

/**
 * Which of two descriptions of a classroom's recording is current. HTTP answers and `recording_state`
 * events may arrive in any order; a later recording (higher id) or a later state of the same one wins.
 */
export function newerRecording(current, incoming) {
  if (!incoming) return current ?? null;
  if (!current) return incoming;
  if (incoming.id !== current.id) return incoming.id > current.id ? incoming : current;
  const was = STATE_ORDER[current.state] ?? -1;
  const now = STATE_ORDER[incoming.state] ?? -1;
  return now >= was ? incoming : current;
}

/** Milliseconds since the recording started (never negative, whatever the clocks say). */
export function elapsedMs(recording, now = Date.now()) {
  const started = Date.parse(recording?.started_at ?? "");
  if (Number.isNaN(started)) return 0;
  return Math.max(0, now - started);
}

/** "h:mm:ss", e.g. 8 s → "0:00:08", 1 h 2 min 3 s → "1:02:03"; "" for a missing value. */
export function formatDuration(ms) {
  if (ms === null || ms === undefined || ms === "" || !Number.isFinite(Number(ms))) return "";
  const total = Math.max(0, Math.floor(Number(ms) / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return `${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
}

/** Megabytes with one decimal, e.g. 1234567 → "1.2 MB"; "" for a missing value. */
export function formatSize(bytes) {
  if (bytes === null || bytes === undefined || bytes === "" || !Number.isFinite(Number(bytes))) return "";
  return `${(Math.max(0, Number(bytes)) / 1e6).toFixed(1)} MB`;
}

/**
 * The REC control for a viewer of the classroom: {action, label, reason}.
 * `viewer` is the viewer's participant ({user_id, role, moderator}). `action` is "start", "stop" or null
 * (the control is disabled and `reason` says why); `label` is the control's accessible name without the
 * elapsed time.
 */
export function recControl(recording, viewer) {
  if (!isActive(recording)) {
    if (viewer?.moderator) return { action: "start", label: "Start recording", reason: null };
    return { action: null, label: "Start recording", reason: "Only the classroom's moderators can record." };
  }
  const starter = recording.started_by;
  const who = starter?.display_name || starter?.username || "someone else";
  if (recording.state === "finishing") {
    return { action: null, label: "Stop recording", reason: `Finishing the recording started by ${who}…` };
  }
  if (viewer && ((starter && starter.id === viewer.user_id) || viewer.role === "admin")) {
    return { action: "stop", label: "Stop recording", reason: null };
  }
  return {
    action: null,
    label: "Stop recording",
    reason: `Recording started by ${who}; only they or an admin can stop it.`,
  };
}

/**
 * Whether `user` may rename, publish and delete `recording`: admins, whoever started it, and the moderators
 * of its classroom (`moderated`: the ids of the classrooms the user moderates).
 */
export function canManageRecording(recording, user, moderated = new Set()) {
  if (!recording || !user) return false;
  if (user.role === "admin") return true;
  if (recording.started_by && recording.started_by.id === user.id) return true;
  const classroomId = recording.classroom?.id;
  return classroomId !== null && classroomId !== undefined && moderated.has(classroomId);
}

/**
 * How each recording is named in its row's controls ("Play <label>"): its name, or, when other recordings
 * in the list share that name, its name with its start date and time (`formatDate`: ISO → text).
 */
export function recordingLabels(recordings, formatDate) {
  const counts = new Map();
  for (const recording of recordings) counts.set(recording.name, (counts.get(recording.name) ?? 0) + 1);
  const labels = new Map();
  for (const recording of recordings) {
    const shared = counts.get(recording.name) > 1 && recording.started_at;
    labels.set(recording.id, shared ? `${recording.name} (${formatDate(recording.started_at)})` : recording.name);
  }
  return labels;
}

/**
 * What to tell the classroom when its recording ends: {text, alert} (alert: shown as an error), or null
 * when nothing needs saying (the recording is still running).
 */
export function recordingEndMessage(recording, reason) {
  if (!recording || isActive(recording)) return null;
  if (recording.state === "failed") {
    const why = recording.error ? `: ${recording.error}` : ".";
    return { text: `The recording failed${why}`, alert: true };
  }
  if (reason === "disk_full") {
    return { text: "The recording stopped because the server's storage is nearly full.", alert: true };
  }
  if (reason === "too_long") {
    return { text: "The recording stopped: it reached the longest allowed length.", alert: false };
  }
  if (reason === "server_stopping") {
    return { text: "The recording stopped because the server is restarting.", alert: true };
  }
  return { text: `The recording “${recording.name}” is saved in Resources → Recorded Classes.`, alert: false };
}
