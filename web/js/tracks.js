// A recording's mode and its per-participant tracks as Recorded Classes shows them (docs/protocol.md,
// "Recording modes" and "Tracks"). DOM-free: it reads the Recording and Track objects the server sends, so
// node tests run it.

/** The badge of a recording's mode; none for the default (one mixed file). */
export const MODE_BADGES = Object.freeze({ tracks: "Tracks", both: "Mixed + tracks" });

/** What each source of a track is called. */
export const SOURCE_LABELS = Object.freeze({ microphone: "Microphone", camera: "Camera", screen: "Screen" });

/** The mode's badge text, or null for a composite recording (or an unknown mode). */
export function modeBadge(recording) {
  return MODE_BADGES[recording?.mode] ?? null;
}

/** Whether the recording's mode writes each participant's tracks ("tracks" or "both"). */
export function hasTrackMode(recording) {
  return recording?.mode === "tracks" || recording?.mode === "both";
}

/** Whether there is a mixed file to play or download: every mode but "tracks". */
export function hasMixedFile(recording) {
  return recording?.mode !== "tracks";
}

/**
 * How many tracks the recording has, as the server says (`tracks`: a count, or the list itself), or null
 * when it does not say.
 */
export function trackCount(recording) {
  const tracks = recording?.tracks;
  if (Array.isArray(tracks)) return tracks.length;
  if (typeof tracks === "number" && Number.isFinite(tracks)) return Math.max(0, Math.trunc(tracks));
  if (tracks && typeof tracks === "object" && Number.isFinite(tracks.count)) return tracks.count;
  return null;
}

/**
 * Whether Recorded Classes offers the recording's tracks: a finished recording in a tracks mode that has
 * (or, when the server does not count them, may have) tracks; a failed one (a "both" recording whose
 * composite was lost) when it kept some. While it records, the tracks are not whole yet (the server
 * refuses the zip until it has ended).
 */
export function offersTracks(recording) {
  if (!hasTrackMode(recording)) return false;
  const count = trackCount(recording);
  if (recording.state === "ready") return count === null || count > 0;
  return recording.state === "failed" && count !== null && count > 0;
}

/** The classrooms a recording covers, as people read them: "Biology A + Biology B" (a session's). */
export function classroomsText(recording) {
  const covered = Array.isArray(recording?.classrooms) ? recording.classrooms : [];
  const names = covered.map((classroom) => classroom?.name).filter(Boolean);
  if (names.length) return names.join(" + ");
  return recording?.classroom?.name ?? "";
}

/**
 * The other classrooms of a recording's session ("separate" sessions keep one recording per classroom),
 * from the recordings listed with it: names, in the order listed, without the recording's own.
 */
export function sessionSiblings(recording, recordings) {
  if (recording?.session_id === null || recording?.session_id === undefined) return [];
  // Classrooms are told apart by id: two may have the same name.
  const covered = (one) => {
    const listed = Array.isArray(one?.classrooms) && one.classrooms.length ? one.classrooms : [one?.classroom];
    return listed.filter((classroom) => classroom && classroom.id !== null && classroom.id !== undefined);
  };
  const seen = new Set(covered(recording).map((classroom) => classroom.id));
  const names = [];
  for (const other of recordings) {
    if (other === recording || other.id === recording.id || other.session_id !== recording.session_id) continue;
    for (const classroom of covered(other)) {
      if (seen.has(classroom.id)) continue;
      seen.add(classroom.id);
      if (classroom.name) names.push(classroom.name);
    }
  }
  return names;
}

/** Where a track begins on the recording's timeline: "m:ss.mmm", e.g. 61_250 → "1:01.250". */
export function formatOffset(ms) {
  const total = Math.max(0, Math.round(Number(ms) || 0));
  const minutes = Math.floor(total / 60_000);
  const seconds = Math.floor((total % 60_000) / 1000);
  const millis = total % 1000;
  return `${minutes}:${String(seconds).padStart(2, "0")}.${String(millis).padStart(3, "0")}`;
}

/** A track's source in words ("Camera"); an unknown one as sent. */
export function sourceLabel(source) {
  return SOURCE_LABELS[source] ?? String(source ?? "");
}

/** A codec as people know it: "opus" → "Opus", "vp8" → "VP8", "h264" → "H.264". */
export function codecLabel(codec) {
  const value = String(codec ?? "");
  const known = { opus: "Opus", vp8: "VP8", vp9: "VP9", h264: "H.264", av1: "AV1" };
  return known[value.toLowerCase()] ?? value;
}

/** Whose track it is: the participant's name, as the server kept it when the track began. */
export function trackOwner(track) {
  return track?.user?.display_name || track?.display_name || "Someone";
}

/** A track's name in the page (its download link says which it is): "Tess Teacher, Camera". */
export function trackLabel(track) {
  return `${trackOwner(track)}, ${sourceLabel(track?.source)}`;
}

/** The tracks in the order the list shows them: by who, then by source (microphone, camera, screen), then
 * by where they begin. A new array. */
export function sortTracks(tracks) {
  const order = Object.keys(SOURCE_LABELS);
  const rank = (source) => (order.includes(source) ? order.indexOf(source) : order.length);
  return [...tracks].sort(
    (a, b) =>
      trackOwner(a).localeCompare(trackOwner(b)) ||
      (a.user?.id ?? 0) - (b.user?.id ?? 0) ||
      rank(a.source) - rank(b.source) ||
      (Number(a.offset_ms) || 0) - (Number(b.offset_ms) || 0) ||
      (a.id ?? 0) - (b.id ?? 0),
  );
}
