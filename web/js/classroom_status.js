// A classroom's status as the dashboard lists it (Recording, Recording paused, In session, Idle) and the
// order it sorts in.
// DOM-free: it reads the Classroom object the server sends (`present`: people inside, moderators included;
// `recording`: RecordingStatus).
import { starterName } from "./recording.js";

/** Status keys in the order "by status, ascending" lists them: the busiest classrooms first. */
export const STATUS_ORDER = Object.freeze(["recording", "live", "idle"]);

/**
 * {key, text, seats, recording}: `key` one of STATUS_ORDER; `text` what the status column says first
 * ("Recording", "Recording paused", "Recording · <session name>" for a classroom of a session over several,
 * "In session (N)", "Idle"); `seats` "In session (N)" also for a classroom that records (or null);
 * `recording` {by, since, paused, session} for a classroom that records (since: ISO time or null; paused:
 * nothing is kept until it resumes; session: the session's name, or null), else null. A paused recording
 * still sorts with those recording: it runs, and Resume is one click away.
 */
export function classroomStatus(classroom) {
  const used = classroom.present ?? 0;
  const seats = used > 0 ? `In session (${used})` : null;
  if (classroom.recording) {
    const paused = Boolean(classroom.recording.paused);
    const session = classroom.recording.session?.name ?? null;
    const by = starterName(classroom.recording);
    const recording = { by, since: classroom.recording.started_at ?? null, paused, session };
    const state = paused ? "Recording paused" : "Recording";
    return { key: "recording", text: session ? `${state} · ${session}` : state, seats, recording };
  }
  if (seats) return { key: "live", text: seats, seats, recording: null };
  return { key: "idle", text: "Idle", seats: null, recording: null };
}

/**
 * The classrooms in the order the dashboard shows them: `sort` null by name; "ascending" by status in
 * STATUS_ORDER (recording, in session, idle; fuller first within one status, then by name), "descending"
 * the reverse. A new array; the input is left alone.
 */
export function sortClassrooms(classrooms, sort = null) {
  const byName = (a, b) => a.name.localeCompare(b.name) || a.id - b.id;
  if (sort === null) return [...classrooms].sort(byName);
  const sign = sort === "descending" ? -1 : 1;
  const rank = (classroom) => STATUS_ORDER.indexOf(classroomStatus(classroom).key);
  const seats = (classroom) => classroom.present ?? 0;
  return [...classrooms].sort((a, b) => sign * (rank(a) - rank(b) || seats(b) - seats(a)) || byName(a, b));
}

/** The next sort when the status column's button is pressed: none → ascending → descending → ascending. */
export function nextSort(sort) {
  return sort === "ascending" ? "descending" : "ascending";
}
