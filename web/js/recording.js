// REC in the browser (docs/protocol.md, "Recording"): recording states, what the REC control says (from the
// rights the server sends with the recording and the classroom), and how recordings are shown. DOM-free, so
// the classroom, dashboard and Recorded Classes pages share it and node tests run it.

/** A recording in one of these states is running: the classroom shows it as recorded. */
export const ACTIVE_STATES = Object.freeze(["starting", "recording", "finishing"]);

/** What the Recorded Classes page shows for each flag. */
export const FLAG_LABELS = Object.freeze({ recovered: "recovered", disk_full: "disk full" });

export function isActive(recording) {
  return Boolean(recording) && ACTIVE_STATES.includes(recording.state);
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

/**
 * A file size as people read it: kilobytes under a megabyte (a recording that has just started grows by
 * kilobytes: "0.0 MB" would say nothing), megabytes with one decimal under a gigabyte, then gigabytes with
 * two, e.g. 48_200 → "48 kB", 1_234_567 → "1.2 MB", 2_500_000_000 → "2.50 GB"; "" for a missing value.
 */
export function formatSize(bytes) {
  if (bytes === null || bytes === undefined || bytes === "" || !Number.isFinite(Number(bytes))) return "";
  const size = Math.max(0, Number(bytes));
  if (size < 999_500) return `${Math.round(size / 1e3)} kB`;
  if (size < 999_950_000) return `${(size / 1e6).toFixed(1)} MB`;
  return `${(size / 1e9).toFixed(2)} GB`;
}

/**
 * What the REC control shows: {action, label, text, reason}. The rights come from the server: `rights` is
 * the join ack's (or rights_changed's) `{can_record}`, and an active `recording` carries `can_stop` for this
 * viewer. `pending` is "start" or "stop" while that request waits for its `recording_state`. `action` is
 * "start", "stop" or null (the control is disabled and `reason`, when there is one, says why); `label` is the
 * control's accessible name without the elapsed time, `text` what the button reads.
 */
export function recControl(recording, rights, pending = null) {
  if (pending === "start") return { action: null, label: "Start recording", text: "Starting…", reason: null };
  if (pending === "stop") return { action: null, label: "Stop recording", text: "Stopping…", reason: null };
  if (!isActive(recording)) {
    const reason = rights?.can_record ? null : "Only the classroom's moderators can record.";
    return { action: reason ? null : "start", label: "Start recording", text: "REC", reason };
  }
  const stop = { label: "Stop recording", text: "Stop REC" };
  const who = starterName(recording);
  if (recording.state === "finishing") {
    return { ...stop, action: null, reason: `Finishing the recording started by ${who}…` };
  }
  if (recording.can_stop) return { ...stop, action: "stop", reason: null };
  return { ...stop, action: null, reason: `Recording started by ${who}; only they or an admin can stop it.` };
}

/** Who started a recording, as people are shown ("someone else" when the server does not say). */
export function starterName(recording) {
  const starter = recording?.started_by;
  return starter?.display_name || starter?.username || "someone else";
}

/** How the Recorded Classes page names why a recording ended (`stop_reason`, docs/protocol.md). */
export const STOP_REASON_LABELS = Object.freeze({
  stopped: "Stopped",
  disk_full: "Disk full",
  too_long: "Reached the length limit",
  server_stopping: "Server restarted",
  classroom_deleted: "Classroom deleted",
  robot_failed: "Recorder failed",
  recovered: "Recovered after a crash",
});

/** The shown stop reason of a recording, "" while it runs or when the server gives none. */
export function stopReasonLabel(recording) {
  const reason = recording?.stop_reason;
  if (!reason) return "";
  return STOP_REASON_LABELS[reason] ?? reason;
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
  if (reason === "robot_failed") {
    return { text: "The recording stopped because the recorder failed.", alert: true };
  }
  return { text: `The recording “${recording.name}” is saved in Resources → Recorded Classes.`, alert: false };
}
