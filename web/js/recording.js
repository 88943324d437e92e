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

/**
 * The recording's media time in milliseconds: since it started, leaving out its pauses (`paused_ms` for
 * those that ended, and the one running since `paused_at`, so the time stands still while paused). Never
 * negative, whatever the clocks say.
 */
export function elapsedMs(recording, now = Date.now()) {
  const started = Date.parse(recording?.started_at ?? "");
  if (Number.isNaN(started)) return 0;
  const pausedAt = recording.paused ? Date.parse(recording.paused_at ?? "") : Number.NaN;
  const end = Number.isNaN(pausedAt) ? now : Math.min(now, pausedAt);
  const paused = Number(recording.paused_ms) || 0;
  return Math.max(0, end - started - paused);
}

/** Whether a recording runs but keeps nothing for now (paused, `recording.paused`). */
export function isPaused(recording) {
  return isActive(recording) && Boolean(recording.paused);
}

/**
 * What the Pause control shows for a running recording: {action, text, label} with action "pause",
 * "resume" or null (disabled: a request waits, or the recording is not yet or no more writing), or null when
 * this viewer may not pause (only who may stop may pause: `can_stop`). `pending` is "pause" or "resume"
 * while that request waits for its `recording_state`.
 */
export function pauseControl(recording, pending = null) {
  if (!isActive(recording) || !recording.can_stop) return null;
  if (pending === "pause") return { action: null, text: "Pausing…", label: "Pause recording" };
  if (pending === "resume") return { action: null, text: "Resuming…", label: "Resume recording" };
  const writing = recording.state === "recording";
  if (recording.paused) return { action: writing ? "resume" : null, text: "Resume", label: "Resume recording" };
  return { action: writing ? "pause" : null, text: "Pause", label: "Pause recording" };
}

/** Whether bookmarks may be added now: the recording writes (not starting, finishing or paused). */
export function canBookmark(recording) {
  return isActive(recording) && recording.state === "recording" && !recording.paused;
}

/** A media time as people read it on a short notice: "01:23" under an hour, else "1:02:03". */
export function formatMediaTime(ms) {
  const total = Math.max(0, Math.floor((Number(ms) || 0) / 1000));
  const h = Math.floor(total / 3600);
  const mm = String(Math.floor((total % 3600) / 60)).padStart(2, "0");
  const ss = String(total % 60).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** How much of a remark a bookmark's confirmation repeats. */
export const REMARK_SHOWN = 60;

/**
 * The confirmation of a bookmark: "Bookmark “Question” at 01:23" ("Bookmark at 01:23" without a code), then
 * its remark, if any, cut at REMARK_SHOWN characters: "Bookmark at 01:23: Ohm's law".
 */
export function bookmarkText(bookmark) {
  const name = bookmark?.label || bookmark?.code;
  const at = formatMediaTime(bookmark?.media_ms);
  const text = name ? `Bookmark “${name}” at ${at}` : `Bookmark at ${at}`;
  const remark = String(bookmark?.remark ?? "").trim();
  if (!remark) return text;
  const shown = remark.length > REMARK_SHOWN ? `${remark.slice(0, REMARK_SHOWN - 1).trimEnd()}…` : remark;
  return `${text}: ${shown}`;
}

/**
 * The code of `codes` ([{code, label, key}]) a key press adds (`key`: KeyboardEvent.key), or null: the code
 * whose key is exactly that character, else the one whose key matches it ignoring case (so "q" works with
 * Caps Lock on) when only one does.
 */
export function codeForKey(codes, key) {
  if (typeof key !== "string" || [...key].length !== 1 || !Array.isArray(codes)) return null;
  const exact = codes.find((code) => code.key === key);
  if (exact) return exact;
  const folded = codes.filter((code) => typeof code.key === "string" && code.key.toLowerCase() === key.toLowerCase());
  return folded.length === 1 ? folded[0] : null;
}

// When a recording started, to the second: every list tells recordings of the same name apart by it.
const DATE_AND_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

/** A moment as "Dec 2, 2026, 4:17:45 AM" (the browser's locale); "" for a missing or unreadable one. */
export function formatDateTime(iso) {
  const date = new Date(iso ?? "");
  return Number.isNaN(date.getTime()) ? "" : DATE_AND_TIME.format(date);
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

/**
 * The body of `PUT /api/classrooms/{id}/codes` from what the codes editor holds: [{name, codes: [{code,
 * label, key}]}], each text as typed (the server says what is wrong with it) but an empty key sent as null
 * (no key).
 */
export function codesBody(lists) {
  return {
    lists: lists.map((list) => ({
      name: list.name,
      codes: list.codes.map((code) => ({ code: code.code, label: code.label, key: code.key ? code.key : null })),
    })),
  };
}

/**
 * A field name of the server's `error.fields` in the form the codes editor names its inputs: a dotted path,
 * "lists[0].codes[1].key" and "lists.0.codes.1.key" both → "lists.0.codes.1.key".
 */
export function fieldPath(name) {
  return String(name)
    .replace(/\[(\d+)\]/g, ".$1")
    .replace(/^\./, "");
}
