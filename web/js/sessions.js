// Recording several classrooms at once (docs/protocol.md, "Recording sessions"): which classrooms and modes
// the dashboard's "Record several classrooms" dialog offers, from what the server sends (each Classroom's
// `can_record` and `recording`, and GET /api/recording-modes' `allowed`). DOM-free, for node tests.
import { starterName } from "./recording.js";

/** A session's modes: the value POST /api/recording-sessions takes, the admin's setting that allows it, and
 * what the dialog calls it. */
export const SESSION_MODES = Object.freeze([
  Object.freeze({ mode: "composite", setting: "multi_composite", label: "One file with every classroom" }),
  Object.freeze({ mode: "separate", setting: "multi_separate", label: "One recording per classroom" }),
]);

/** The session modes the admin allows (`allowed`: the modes API's list), in SESSION_MODES order. */
export function offeredSessionModes(allowed) {
  const modes = new Set(Array.isArray(allowed) ? allowed : []);
  return SESSION_MODES.filter((entry) => modes.has(entry.setting));
}

/** The classrooms this user may record (the server says: `can_record`), by name. */
export function recordableClassrooms(classrooms) {
  return classrooms
    .filter((classroom) => classroom.can_record)
    .sort((a, b) => a.name.localeCompare(b.name) || a.id - b.id);
}

/** Whether to offer "Record several classrooms": two classrooms to record, and a session mode allowed. */
export function offersSessions(classrooms, allowed) {
  return recordableClassrooms(classrooms).length >= 2 && offeredSessionModes(allowed).length > 0;
}

/** Why a classroom cannot join a session now ("Recording by Tess Teacher"), or null when it can. */
export function busyReason(classroom) {
  if (!classroom?.recording) return null;
  const session = classroom.recording.session?.name;
  const by = `Recording by ${starterName(classroom.recording)}`;
  return session ? `${by} (${session})` : by;
}

/** Names as a sentence: "A", "A and B", "A, B and C". */
export function namesText(names) {
  if (names.length <= 1) return names.join("");
  return `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
}

/** What the page says once a session started: "Recording Biology A and Biology B as “Biology A 1”." */
export function startedText(session) {
  const names = (session?.classrooms ?? []).map((classroom) => classroom.name);
  const separate = session?.mode === "separate" ? ", one recording per classroom" : " into one file";
  return `Recording ${namesText(names)}${separate}, as “${session?.name ?? ""}”.`;
}
