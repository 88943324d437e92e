// The player's arithmetic on a recording's timeline (docs/protocol.md, GET /api/recordings/{id}/timeline and
// /chapters): the original time of day of a media time, which chat lines have played, the chapter playing,
// where a loop jumps back, and which recordings of the same classroom to offer. DOM-free, so node tests run
// it; web/js/player.js draws what it says.

/** The speeds the player offers (playbackRate), slowest first. */
export const SPEEDS = Object.freeze([0.5, 0.75, 1, 1.25, 1.5, 2]);

/** How far before a chapter's end a looped chapter jumps back: a frame or so, so its end is not overshot. */
export const LOOP_EARLY_MS = 30;

/**
 * The original wall time (ms since the epoch) of media time `mediaMs`. Pauses are cut out of the file, so
 * media time is not "started_at + t": each continuous stretch has its anchor `{media_ms, at}` in `clock`
 * and the time is `at + (t - media_ms)` of the last anchor at or before t. Without anchors (an older
 * recording), `startedAt` + t, right for a recording never paused. NaN when nothing is known.
 */
export function originalTime(clock, mediaMs, startedAt = null) {
  let anchor = null;
  for (const candidate of clock ?? []) {
    if (candidate.media_ms <= mediaMs && (anchor === null || candidate.media_ms >= anchor.media_ms)) {
      anchor = candidate;
    }
  }
  if (anchor === null && clock?.length) {
    // Before the first anchor (it should be at 0): count back from the earliest.
    anchor = clock.reduce((first, candidate) => (candidate.media_ms < first.media_ms ? candidate : first));
  }
  if (anchor !== null) return Date.parse(anchor.at) + (mediaMs - anchor.media_ms);
  return startedAt ? Date.parse(startedAt) + mediaMs : Number.NaN;
}

/** The chat events of a timeline, in media order (the order they were sent when two share a time). */
export function chatLines(events) {
  return (events ?? [])
    .map((event, index) => ({ event, index }))
    .filter(({ event }) => event.type === "chat")
    .sort((a, b) => a.event.media_ms - b.event.media_ms || a.index - b.index)
    .map(({ event }) => event);
}

/** How many of `lines` (in media order) have played at `mediaMs`: those whose moment is at or before it. */
export function playedCount(lines, mediaMs) {
  let low = 0;
  let high = lines.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (lines[middle].media_ms <= mediaMs) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The index of the chapter playing at `mediaMs` (the last one started at or before it), -1 when none. */
export function chapterAt(chapters, mediaMs) {
  let found = -1;
  (chapters ?? []).forEach((chapter, index) => {
    if (chapter.start_ms <= mediaMs) found = index;
  });
  return found;
}

/**
 * Where a looped stretch `{start_ms, end_ms}` sends playback that went from `previousMs` to `currentMs`:
 * back to its start when playing crossed its end (from inside it), else null. Seeking past the end by hand
 * does not count: only a step that began inside the stretch does.
 */
export function loopJump(range, previousMs, currentMs) {
  if (!range || previousMs === null || previousMs === undefined) return null;
  const end = range.end_ms - LOOP_EARLY_MS;
  const inside = previousMs >= range.start_ms - LOOP_EARLY_MS && previousMs < end;
  return inside && currentMs >= end && currentMs - previousMs < 2000 ? range.start_ms : null;
}

/** "h:mm:ss" of a media time, e.g. 83_000 → "0:01:23". */
export function formatMediaTime(ms) {
  const total = Math.max(0, Math.floor((Number(ms) || 0) / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return `${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
}

/** Speech for a media time, e.g. 83_000 → "1 minute 23 seconds" (a slider's value text). */
export function spokenMediaTime(ms) {
  const total = Math.max(0, Math.floor((Number(ms) || 0) / 1000));
  const parts = [
    [Math.floor(total / 3600), "hour"],
    [Math.floor((total % 3600) / 60), "minute"],
    [total % 60, "second"],
  ].filter(([count], index) => count > 0 || (index === 2 && total === 0));
  return parts.map(([count, unit]) => `${count} ${unit}${count === 1 ? "" : "s"}`).join(" ");
}

/**
 * The other recordings to switch to: those of `current`'s classroom that can be played (ready), `current`
 * included (marked by the caller), newest first. Told apart by date and time, so no two share a label.
 */
export function sameClassroom(recordings, current) {
  const classroomId = current?.classroom?.id;
  if (classroomId === null || classroomId === undefined) return [];
  return (recordings ?? [])
    .filter((recording) => recording.classroom?.id === classroomId)
    .filter((recording) => recording.state === "ready" || recording.id === current.id)
    .sort((a, b) => Date.parse(b.started_at ?? "") - Date.parse(a.started_at ?? "") || b.id - a.id);
}

// ---- the class's timeline in words ----------------------------------------------------------------------

/** The filters of the timeline list: which kinds of entry each shows ("class" entries only under All). */
export const TIMELINE_FILTERS = Object.freeze([
  { value: "all", label: "All", kinds: ["people", "chat", "bookmarks", "class"] },
  { value: "people", label: "People", kinds: ["people"] },
  { value: "chat", label: "Chat", kinds: ["chat"] },
  { value: "bookmarks", label: "Bookmarks", kinds: ["bookmarks"] },
]);

/** A speaker turn shorter than this is left out of the list: a cough or a word is no change of speaker. */
export const SPEAKER_MIN_MS = 3000;

const KIND_OF = {
  chat: "chat",
  bookmark: "bookmarks",
  join: "people",
  leave: "people",
  hand_raised: "people",
  hand_lowered: "people",
  speaker: "people",
  screen_share_started: "people",
  screen_share_stopped: "people",
  muted: "people",
  unmuted: "people",
  consent: "people",
};

/** Which filter an event's entry belongs to: people, chat, bookmarks, or class (REC, pauses, replays). */
export function entryKind(event) {
  return KIND_OF[event?.type] ?? "class";
}

function nameOf(value, fallback = "Someone") {
  const name = value && typeof value === "object" ? value.display_name : null;
  return typeof name === "string" && name.trim() ? name.trim() : fallback;
}

function oneLine(text) {
  return String(text ?? "")
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean)
    .join(" / ");
}

/** "Tess Teacher paused the recording", or "The recording was paused" when nobody is named. */
function byWhom(by, did, done) {
  return by && typeof by === "object" ? `${nameOf(by)} ${did}` : done;
}

function mediaName(source) {
  return source === "camera" ? "camera" : source === "microphone" ? "microphone" : "media";
}

const SENTENCES = {
  recording_started: (e) => {
    const present = (e.participants ?? []).map((p) => nameOf(p)).join(", ");
    const started = byWhom(e.by, "started the recording", "The recording started");
    return present ? `${started}; present: ${present}` : started;
  },
  join: (e) => `${nameOf(e)} joined`,
  leave: (e) => `${nameOf(e)} left`,
  chat: (e) => `${nameOf(e)} wrote: ${oneLine(e.text)}`,
  hand_raised: (e) => `${nameOf(e)} raised a hand`,
  hand_lowered: (e) => `${nameOf(e)}'s hand went down`,
  speaker: (e) => (e.user_id === null || e.user_id === undefined ? "Nobody spoke" : `${nameOf(e)} spoke`),
  screen_share_started: (e) => `${nameOf(e)} started sharing a screen`,
  screen_share_stopped: (e) => `${nameOf(e)} stopped sharing a screen`,
  muted: (e) => `${nameOf(e)} turned off their ${mediaName(e.source)}`,
  unmuted: (e) => `${nameOf(e)} turned on their ${mediaName(e.source)}`,
  consent: (e) => `${nameOf(e)} ${e.accepted ? "agreed" : "declined"} to be recorded`,
  paused: (e) => byWhom(e.by, "paused the recording", "The recording was paused"),
  resumed: (e) => byWhom(e.by, "resumed the recording", "The recording resumed"),
  bookmark: (e) => {
    const title = [e.label || e.code, oneLine(e.remark)].filter(Boolean).join(" — ") || "(untitled)";
    return `Bookmark: ${title}${e.by && typeof e.by === "object" ? ` (by ${nameOf(e.by)})` : ""}`;
  },
  replay_started: (e) => {
    const what = e.name ? `a replay of “${e.name}”` : "a replay";
    return byWhom(e.by, `started ${what}`, `${what[0].toUpperCase()}${what.slice(1)} started`);
  },
  replay_paused: (e) => byWhom(e.by, "paused the replay", "The replay was paused"),
  replay_resumed: (e) => byWhom(e.by, "resumed the replay", "The replay resumed"),
  replay_stopped: (e) => byWhom(e.by, "stopped the replay", "The replay stopped"),
  recording_stopped: () => "The recording stopped",
};

/** What happened, in words: "Sam Student raised a hand". */
export function eventSentence(event) {
  const sentence = SENTENCES[event?.type];
  if (sentence) return sentence(event);
  const type = String(event?.type ?? "event").replaceAll("_", " ");
  return `${type[0]?.toUpperCase() ?? ""}${type.slice(1)}`;
}

/**
 * Speaker changes condensed: a turn shorter than SPEAKER_MIN_MS (up to the next speaker event, or
 * `endMs`) is dropped, "nobody speaks" is never listed, and a speaker who speaks again after such gaps
 * is not listed twice.
 */
function condensedSpeakers(speakers, endMs) {
  const kept = [];
  let last = null;
  speakers.forEach((event, index) => {
    const next = speakers[index + 1];
    const until = next ? next.media_ms : (endMs ?? Number.POSITIVE_INFINITY);
    if (event.user_id === null || event.user_id === undefined) return;
    if (until - event.media_ms < SPEAKER_MIN_MS) return;
    if (last !== null && last.user_id === event.user_id) return;
    kept.push(event);
    last = event;
  });
  return new Set(kept);
}

/**
 * The timeline's entries in media order (events sharing a time keep the server's order), each
 * `{event, kind, text}`; speaker changes condensed (see condensedSpeakers). `endMs`: the recording's length.
 */
export function timelineEntries(events, endMs = null) {
  const ordered = (events ?? [])
    .map((event, index) => ({ event, index }))
    .filter(({ event }) => event && Number.isFinite(event.media_ms))
    .sort((a, b) => a.event.media_ms - b.event.media_ms || a.index - b.index)
    .map(({ event }) => event);
  const speakers = condensedSpeakers(
    ordered.filter((event) => event.type === "speaker"),
    endMs,
  );
  return ordered
    .filter((event) => event.type !== "speaker" || speakers.has(event))
    .map((event) => ({ event, kind: entryKind(event), text: eventSentence(event) }));
}

/** The kinds a filter value shows (All for an unknown value). */
export function filterKinds(value) {
  return (TIMELINE_FILTERS.find((filter) => filter.value === value) ?? TIMELINE_FILTERS[0]).kinds;
}

/**
 * The index (into `entries`) of the entry playing at `mediaMs` among those `shown` (a predicate): the last
 * shown one at or before it, -1 when none. Of entries sharing that moment, `preferred` (the one just
 * clicked) wins, so a click marks what was clicked.
 */
export function currentEntry(entries, mediaMs, shown = () => true, preferred = -1) {
  let found = -1;
  entries.forEach((entry, index) => {
    if (entry.event.media_ms <= mediaMs && shown(entry)) found = index;
  });
  if (
    found >= 0 &&
    preferred >= 0 &&
    preferred < entries.length &&
    shown(entries[preferred]) &&
    entries[preferred].event.media_ms === entries[found].event.media_ms
  ) {
    return preferred;
  }
  return found;
}

/** Where on the seek bar (0–100 %) a media time is, for the chapter marks under it. */
export function markPercent(mediaMs, durationMs) {
  if (!(durationMs > 0)) return 0;
  return Math.min(100, Math.max(0, (mediaMs / durationMs) * 100));
}

/**
 * The timeline's events with its bookmarks as they are now (GET /api/recordings/{id}/bookmarks): a
 * `bookmark` event was written when the bookmark was added, and a moderator may have changed its code,
 * remark or time since, or deleted it. Each bookmark event takes its bookmark's code, label, remark,
 * media time and original time; one whose bookmark is gone is left out. `bookmarks` null (not loaded):
 * the events as they are. A new array; the input is left alone.
 */
export function withCurrentBookmarks(events, bookmarks) {
  if (!Array.isArray(bookmarks)) return [...(events ?? [])];
  const byId = new Map(bookmarks.map((bookmark) => [bookmark.id, bookmark]));
  return (events ?? []).flatMap((event) => {
    if (event?.type !== "bookmark" || event.bookmark_id === null || event.bookmark_id === undefined) {
      return [event];
    }
    const bookmark = byId.get(event.bookmark_id);
    if (!bookmark) return [];
    const { code, label, remark, media_ms: mediaMs, at } = bookmark;
    return [{ ...event, code, label, remark, media_ms: mediaMs, at: at ?? event.at }];
  });
}
