// Settings (/settings): Session Recording, the reminder to record, the robot's name and how recordings are
// named (a default name, numbered per classroom; whether Stop asks for the name), per user.
import { getSettings, updateSettings } from "/static/js/api.js";
import { clearFieldErrors, reportFormError, showFieldErrors } from "/static/js/forms.js";
import { clearMessage, initPage, redirectIfUnauthorized, showMessage } from "/static/js/nav.js";

const page = {
  alert: document.getElementById("alert"),
  status: document.getElementById("status"),
  form: document.getElementById("recording-form"),
  notForYou: document.getElementById("recording-not-for-you"),
  reminder: document.getElementById("recording-reminder"),
  robotName: document.getElementById("robot-name"),
  defaultName: document.getElementById("default-recording-name"),
  editNameOnStop: document.getElementById("edit-name-on-stop"),
};

function showSettings(settings) {
  page.reminder.checked = Boolean(settings.recording_reminder);
  page.robotName.value = settings.robot_name ?? "";
  page.defaultName.value = settings.default_recording_name ?? "";
  page.editNameOnStop.checked = Boolean(settings.edit_name_on_stop);
}

/** A refusal: each field's problem next to it (only there), anything else at the top. */
function failed(err) {
  if (redirectIfUnauthorized(err)) return;
  const rest = page.form.hidden ? err.message : reportFormError(page.form, err);
  if (rest) showMessage(page.alert, rest);
}

async function save(event) {
  event.preventDefault();
  clearMessage(page.status);
  clearMessage(page.alert);
  clearFieldErrors(page.form);
  const robotName = page.robotName.value.trim();
  if (!robotName) {
    showFieldErrors(page.form, { fields: { robot_name: "Enter the name the robot should show." } });
    return;
  }
  const button = page.form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    // An empty default name means the classroom's name (null), as the hint says.
    const defaultName = page.defaultName.value.trim() || null;
    showSettings(
      await updateSettings({
        recording_reminder: page.reminder.checked,
        robot_name: robotName,
        default_recording_name: defaultName,
        edit_name_on_stop: page.editNameOnStop.checked,
      }),
    );
    showMessage(page.status, "Saved");
  } catch (err) {
    failed(err);
  } finally {
    button.disabled = false;
  }
}

async function main() {
  const user = await initPage();
  if (!user) return;
  // Recording settings matter to those who may record (the server's `can_record` on GET /api/me).
  if (!user.can_record) {
    page.notForYou.hidden = false;
    return;
  }
  try {
    showSettings(await getSettings());
  } catch (err) {
    failed(err);
    return;
  }
  page.form.addEventListener("submit", save);
  page.form.addEventListener("input", () => clearMessage(page.status));
  page.form.hidden = false;
}

main();
