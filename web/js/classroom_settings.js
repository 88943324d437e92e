// Classroom settings (/classrooms/{id}/settings): rename, resize, enrol and unenrol students, add or remove
// moderators, what students may use by default, the codes lists picked before REC (web/js/codes_editor.js),
// and delete (with a confirmation dialog). What the viewer may do comes with the classroom (can_manage,
// can_delete).
import { deleteClassroom, getClassroom, updateClassroom } from "/static/js/api.js";
import { CodesEditor } from "/static/js/codes_editor.js";
import { clearFieldErrors, reportFormError } from "/static/js/forms.js";
import { clearMessage, initPage, redirectIfUnauthorized, showMessage } from "/static/js/nav.js";
import { UserPicker } from "/static/js/user_picker.js";

const SOURCES = ["microphone", "camera", "screen"];

const alert = document.getElementById("alert");
const status = document.getElementById("status");
const heading = document.getElementById("page-heading");
const form = document.getElementById("settings-form");
const submit = form.querySelector("button[type=submit]");
const deleteDialog = document.getElementById("delete-dialog");

const classroomId = Number(location.pathname.split("/")[2]);
let classroom = null;

function showError(err) {
  if (redirectIfUnauthorized(err)) return;
  clearMessage(status);
  showMessage(alert, err.message);
}

const students = new UserPicker(document.getElementById("settings-students"), {
  label: "Students",
  roles: ["student"],
  onError: showError,
});
const moderators = new UserPicker(document.getElementById("settings-moderators"), {
  label: "Moderators",
  roles: ["teacher", "admin"],
  hint: "Teachers and admins who help run the class. Type part of a name, then choose from the list.",
  onError: showError,
});

/** Shows the classroom as the server last described it. */
function render() {
  heading.textContent = `Settings of ${classroom.name}`;
  document.title = `Aula — ${classroom.name} settings`;
  document.getElementById("owner").textContent = `Owner: ${classroom.owner.display_name}`;
  form.elements.name.value = classroom.name;
  form.elements.seat_limit.value = String(classroom.seat_limit);
  students.set(classroom.students);
  // The owner is always a moderator and is not chosen here.
  moderators.set(classroom.moderators.filter((user) => user.id !== classroom.owner.id));
  for (const source of SOURCES) form.elements[source].checked = Boolean(classroom.student_media?.[source]);
  document.getElementById("danger-zone").hidden = !classroom.can_delete;
}

function changes() {
  const seatLimit = form.elements.seat_limit.value.trim();
  return {
    name: form.elements.name.value,
    // An empty or non-numeric box is sent as typed, so the server explains what it needs.
    seat_limit: seatLimit === "" || Number.isNaN(Number(seatLimit)) ? seatLimit : Number(seatLimit),
    students: students.usernames(),
    moderators: moderators.usernames(),
    student_media: Object.fromEntries(SOURCES.map((source) => [source, form.elements[source].checked])),
  };
}

function setUpForm() {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearMessage(alert);
    clearMessage(status);
    clearFieldErrors(form);
    submit.disabled = true;
    try {
      classroom = await updateClassroom(classroomId, changes());
      render();
      showMessage(status, "Changes saved.");
    } catch (err) {
      if (redirectIfUnauthorized(err)) return;
      showMessage(alert, reportFormError(form, err));
    } finally {
      submit.disabled = false;
    }
  });
}

/** The codes lists: read when the page opens; a failure to read them is said in their section. */
async function setUpCodes() {
  const byId = (id) => document.getElementById(id);
  const codesAlert = byId("codes-alert");
  const editor = new CodesEditor(
    {
      form: byId("codes-form"),
      lists: byId("codes-lists"),
      empty: byId("codes-empty"),
      addList: byId("codes-add-list"),
      alert: codesAlert,
      status: byId("codes-status"),
    },
    { classroomId, onUnauthorized: redirectIfUnauthorized },
  );
  byId("codes").hidden = false;
  try {
    await editor.load();
  } catch (err) {
    if (!redirectIfUnauthorized(err)) showMessage(codesAlert, `The codes lists could not be read: ${err.message}`);
  }
}

function setUpDelete() {
  document.getElementById("delete-open").addEventListener("click", () => {
    document.getElementById("delete-text").textContent =
      `Delete ${classroom.name}? Nobody can enter it afterwards; its recordings are kept.`;
    deleteDialog.showModal();
  });
  document.getElementById("delete-cancel").addEventListener("click", () => deleteDialog.close());
  const confirm = document.getElementById("delete-confirm");
  confirm.addEventListener("click", async () => {
    confirm.disabled = true;
    try {
      await deleteClassroom(classroomId);
      location.assign("/classrooms");
    } catch (err) {
      deleteDialog.close();
      showError(err);
    } finally {
      confirm.disabled = false;
    }
  });
}

async function main() {
  const user = await initPage();
  if (!user) return;
  try {
    classroom = await getClassroom(classroomId);
  } catch (err) {
    if (err.status === 404) showMessage(alert, "There is no such classroom, or you cannot see it.");
    else showError(err);
    return;
  }
  if (!classroom.can_manage) {
    heading.textContent = `Settings of ${classroom.name}`;
    showMessage(alert, "Only this classroom's moderators can change its settings.");
    return;
  }
  document.getElementById("settings").hidden = false;
  render();
  setUpForm();
  setUpDelete();
  await setUpCodes();
}

main();
