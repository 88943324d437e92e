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
