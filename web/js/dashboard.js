// Dashboard (/classrooms): the classrooms the user can see with their live status (who records since
// when, and whether the recording is paused; who is in session; a session's name for each of its classrooms),
// sortable by status, a form to create one for those the server allows, and for who may record two
// classrooms or more, "Record several classrooms" (web/js/session_dialog.js).
import { io } from "/vendor/socket.io.esm.min.js";
import { createClassroom, getClassroom, listClassrooms } from "/static/js/api.js";
import { classroomStatus, nextSort, sortClassrooms } from "/static/js/classroom_status.js";
import { clearFieldErrors, reportFormError } from "/static/js/forms.js";
import { clearMessage, el, initPage, redirectIfUnauthorized, showMessage } from "/static/js/nav.js";
import { ClassroomConnection, NAMESPACE } from "/static/js/protocol.js";
import { SessionDialog } from "/static/js/session_dialog.js";
import { UserPicker } from "/static/js/user_picker.js";

// Only when the live status cannot be watched: the list is read again this often.
const POLL_MS = 10000;

const alert = document.getElementById("alert");
const statusMessage = document.getElementById("status");
const table = document.getElementById("classrooms");
const empty = document.getElementById("classrooms-empty");
const nameHeader = document.getElementById("name-header");
const statusHeader = document.getElementById("status-header");
const statusSort = document.getElementById("status-sort");

const timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

const dashboard = {
  classrooms: new Map(), // id -> Classroom, as the server last said
  sort: null, // null (by name), "ascending" or "descending" (by status)
  // Answers may overtake each other: each read is numbered, and a row takes only a newer read than its last.
  reads: 0,
  readOf: new Map(), // classroom id -> number of the read its row shows
  refreshError: null, // a failed read is shown until the next one succeeds
  sessions: null, // the "Record several classrooms" dialog
};

function since(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const today = new Date().toDateString() === date.toDateString();
  return (today ? timeFormat : dateTimeFormat).format(date);
}

function statusCell(classroom) {
  const status = classroomStatus(classroom);
  const cell = el("td", { className: "classroom-status" });
  const paused = status.recording?.paused ? " status-paused" : "";
  cell.append(el("span", { className: `status status-${status.key}${paused}` }, status.text));
  if (status.recording) {
    if (status.seats) cell.append(" ", el("span", { className: "status status-live" }, status.seats));
    const detail = el("p", { className: "status-detail" }, `Started by ${status.recording.by}`);
    if (status.recording.since) {
      const time = el("time", { dateTime: status.recording.since }, since(status.recording.since));
      detail.append(", since ", time);
    }
    cell.append(detail);
  }
  return cell;
}

/** The name cell: the link into the classroom, and for its moderators (the server says: can_manage) a
 * link to its settings, described by the classroom's name. */
function nameCell(classroom) {
  const nameId = `classroom-name-${classroom.id}`;
  const cell = el("td", {}, el("a", { id: nameId, href: `/classrooms/${encodeURIComponent(classroom.id)}` }, classroom.name));
  if (classroom.can_manage) {
    const href = `/classrooms/${encodeURIComponent(classroom.id)}/settings`;
    cell.append(" ", el("a", { href, className: "manage-link", "aria-describedby": nameId }, "Manage"));
  }
  return cell;
}

function classroomRow(classroom) {
  return el(
    "tr",
    { "data-classroom-id": classroom.id, "data-status": classroomStatus(classroom).key },
    nameCell(classroom),
    el("td", {}, classroom.owner?.display_name ?? ""),
    el("td", {}, `${classroom.seats_used} / ${classroom.seat_limit}`),
    statusCell(classroom),
  );
}

/** "Session started" clears itself after a while, or once no classroom records the session any more. */
const STARTED_NOTICE_MS = 15_000;
let startedNotice = null;

function showStarted(session, text) {
  const shown = { id: session?.id ?? null, text, seen: false };
  startedNotice = shown;
  showMessage(statusMessage, text);
  setTimeout(() => {
    if (startedNotice === shown) clearStarted();
  }, STARTED_NOTICE_MS);
}

function clearStarted() {
  if (startedNotice && statusMessage.textContent === startedNotice.text) clearMessage(statusMessage);
  startedNotice = null;
}

function followStarted(classrooms) {
  if (!startedNotice || startedNotice.id === null) return;
  const recording = classrooms.some((classroom) => classroom.recording?.session?.id === startedNotice.id);
  if (recording) startedNotice.seen = true;
  else if (startedNotice.seen) clearStarted(); // the session was listed and has ended
}

function render() {
  const classrooms = sortClassrooms([...dashboard.classrooms.values()], dashboard.sort);
  followStarted(classrooms);
  table.tBodies[0].replaceChildren(...classrooms.map(classroomRow));
  dashboard.sessions?.update(classrooms);
  table.hidden = classrooms.length === 0;
  empty.hidden = classrooms.length !== 0;
  // The column the rows are sorted by says so (the status column only once its button is pressed).
  if (dashboard.sort === null) {
    nameHeader.setAttribute("aria-sort", "ascending");
    statusHeader.removeAttribute("aria-sort");
  } else {
    nameHeader.removeAttribute("aria-sort");
    statusHeader.setAttribute("aria-sort", dashboard.sort);
  }
}

function readSucceeded() {
  if (dashboard.refreshError !== null && alert.textContent === dashboard.refreshError) clearMessage(alert);
  dashboard.refreshError = null;
}

function readFailed(err) {
  if (redirectIfUnauthorized(err)) return;
  dashboard.refreshError = err.message;
  showMessage(alert, err.message);
}

/** Reads every classroom again (at the start, after a reconnect, after creating one). */
async function refresh() {
  const read = ++dashboard.reads;
  let classrooms;
  try {
    classrooms = await listClassrooms();
  } catch (err) {
    readFailed(err);
    return;
  }
  readSucceeded();
  const listed = new Map(classrooms.map((classroom) => [classroom.id, classroom]));
  for (const id of new Set([...dashboard.classrooms.keys(), ...listed.keys()])) {
    if ((dashboard.readOf.get(id) ?? 0) > read) continue;
    dashboard.readOf.set(id, read);
    if (listed.has(id)) dashboard.classrooms.set(id, listed.get(id));
    else dashboard.classrooms.delete(id);
  }
  render();
}

/** `classroom_status`: one classroom changed (or appeared, or went away); its row follows the server. */
async function reread(id) {
  const read = ++dashboard.reads;
  let classroom = null;
  try {
    classroom = await getClassroom(id);
  } catch (err) {
    if (err.status !== 404) {
      readFailed(err);
      return;
    }
  }
  readSucceeded();
  if ((dashboard.readOf.get(id) ?? 0) > read) return;
  dashboard.readOf.set(id, read);
  if (classroom) dashboard.classrooms.set(id, classroom);
  else dashboard.classrooms.delete(id);
  render();
}

/** Live status over the classroom namespace (no join); without it, the list is polled. */
async function watch() {
  const socket = io(NAMESPACE, { transports: ["websocket"], withCredentials: true });
  const connection = new ClassroomConnection(socket);
  connection.on("classroom_status", ({ classroom_id: id }) => reread(id));
  // Changes made while disconnected were not announced.
  connection.on("rewatched", refresh);
  try {
    await connection.watchClassrooms();
  } catch (err) {
    console.warn("live classroom status unavailable:", err.message);
    connection.close();
    setInterval(refresh, POLL_MS);
    return;
  }
  // Whatever changed between the first read and the watch taking effect.
  await refresh();
}

function setUpSorting() {
  statusSort.addEventListener("click", () => {
    dashboard.sort = nextSort(dashboard.sort);
    render();
  });
}

function setUpCreateForm() {
  const section = document.getElementById("new-classroom");
  const form = document.getElementById("new-classroom-form");
  const submit = form.querySelector("button[type=submit]");
  const onError = (err) => {
    if (!redirectIfUnauthorized(err)) showMessage(alert, err.message);
  };
  const students = new UserPicker(document.getElementById("new-students"), {
    label: "Students",
    roles: ["student"],
    onError,
  });
  const moderators = new UserPicker(document.getElementById("new-moderators"), {
    label: "Moderators",
    roles: ["teacher", "admin"],
    hint: "Teachers and admins who help run the class (you are one already). Type part of a name, then choose.",
    onError,
  });
  section.hidden = false;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearMessage(alert);
    clearFieldErrors(form);
    const fields = {
      name: form.elements.name.value,
      students: students.usernames(),
      moderators: moderators.usernames(),
    };
    const seatLimit = form.elements.seat_limit.value.trim();
    // A box that is not a number is sent as typed, so the server explains what it needs.
    if (seatLimit !== "") fields.seat_limit = Number.isNaN(Number(seatLimit)) ? seatLimit : Number(seatLimit);
    submit.disabled = true;
    try {
      await createClassroom(fields);
      form.reset();
      students.clear();
      moderators.clear();
      await refresh();
    } catch (err) {
      if (redirectIfUnauthorized(err)) return;
      showMessage(alert, reportFormError(form, err));
    } finally {
      submit.disabled = false;
    }
  });
}

/** "Record several classrooms": offered once the allowed modes are known (the dashboard's rows decide). */
async function setUpSessions() {
  const sessions = new SessionDialog({
    onStarted: (session, text) => {
      clearMessage(alert);
      showStarted(session, text);
      refresh();
    },
    onChanged: refresh,
  });
  await sessions.readModes();
  dashboard.sessions = sessions;
  sessions.update([...dashboard.classrooms.values()]);
}

async function main() {
  const user = await initPage();
  if (!user) return;
  if (user.can_create_classroom) setUpCreateForm();
  setUpSorting();
  // The allowed modes are read alongside the classrooms; the button shows once both are known.
  await Promise.all([setUpSessions(), refresh()]);
  await watch();
}

main();
