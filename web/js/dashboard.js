// Dashboard (/classrooms): the classrooms the user can see, and a form to create one.
import { createClassroom, listClassrooms } from "/static/js/api.js";
import { clearMessage, el, initPage, parseUsernames, redirectIfUnauthorized, showMessage } from "/static/js/nav.js";

const REFRESH_MS = 10000;

const alert = document.getElementById("alert");
const table = document.getElementById("classrooms");
const empty = document.getElementById("classrooms-empty");

function canCreateClassroom(user) {
  return user.role === "teacher" || user.role === "admin";
}

function classroomStatus(classroom) {
  if (classroom.recording) {
    const by = classroom.recording.started_by?.display_name;
    return by ? `Recording (started by ${by})` : "Recording";
  }
  return classroom.seats_used > 0 ? "In session" : "Idle";
}

function classroomRow(classroom) {
  const link = el("a", { href: `/classrooms/${encodeURIComponent(classroom.id)}` }, classroom.name);
  const status = classroomStatus(classroom);
  const statusCell = el("td", {}, el("span", { className: `status status-${statusClass(status)}` }, status));
  return el(
    "tr",
    { "data-classroom-id": classroom.id },
    el("td", {}, link),
    el("td", {}, classroom.owner?.display_name ?? ""),
    el("td", {}, `${classroom.seats_used} / ${classroom.seat_limit}`),
    statusCell,
  );
}

function statusClass(status) {
  if (status.startsWith("Recording")) return "recording";
  return status === "In session" ? "live" : "idle";
}

function renderClassrooms(classrooms) {
  table.tBodies[0].replaceChildren(...classrooms.map(classroomRow));
  table.hidden = classrooms.length === 0;
  empty.hidden = classrooms.length !== 0;
}

// A failed refresh is shown until the next one succeeds; errors from the form stay until the next submit.
let refreshError = null;

async function refresh() {
  try {
    renderClassrooms(await listClassrooms());
    if (refreshError !== null && alert.textContent === refreshError) clearMessage(alert);
    refreshError = null;
  } catch (err) {
    if (redirectIfUnauthorized(err)) return;
    refreshError = err.message;
    showMessage(alert, err.message);
  }
}

function setUpCreateForm() {
  const section = document.getElementById("new-classroom");
  const form = document.getElementById("new-classroom-form");
  const submit = form.querySelector("button[type=submit]");
  section.hidden = false;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearMessage(alert);
    const fields = {
      name: form.elements.name.value.trim(),
      students: parseUsernames(form.elements.students.value),
      moderators: parseUsernames(form.elements.moderators.value),
    };
    const seatLimit = form.elements.seat_limit.value.trim();
    if (seatLimit !== "") fields.seat_limit = Number(seatLimit);
    submit.disabled = true;
    try {
      await createClassroom(fields);
      form.reset();
      await refresh();
    } catch (err) {
      if (!redirectIfUnauthorized(err)) showMessage(alert, err.message);
    } finally {
      submit.disabled = false;
    }
  });
}

async function main() {
  const user = await initPage();
  if (!user) return;
  if (canCreateClassroom(user)) setUpCreateForm();
  await refresh();
  setInterval(refresh, REFRESH_MS);
}

main();
