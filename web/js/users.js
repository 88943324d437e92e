// User administration (/admin/users, for those the server lets manage users: admins): search, create,
// change a role, reset a password, delete (with confirmation; never one's own account: the server says
// whom with can_delete); and the recording modes teachers may use (GET and PUT /api/recording-modes).
import { createUser, deleteUser, listUsers, request, updateUser } from "/static/js/api.js";
import { clearFieldErrors, reportFormError, showFieldErrors } from "/static/js/forms.js";
import { clearMessage, el, initPage, redirectIfUnauthorized, showMessage } from "/static/js/nav.js";

const alert = document.getElementById("alert");
const status = document.getElementById("status");
const tbody = document.querySelector("#users tbody");
const search = document.getElementById("user-search");
const searchCount = document.getElementById("user-search-count");
const deleteDialog = document.getElementById("delete-dialog");

const page = {
  users: [],
  deleting: null, // the user the delete dialog asks about
};

/** Lower case without accents, so "lea" finds "Léa". */
const folded = (text) => text.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase();

function hiddenText(text) {
  return el("span", { className: "visually-hidden" }, text);
}

function userRow(user) {
  const role = el("button", { type: "button", className: "secondary small" }, "Change role", hiddenText(` of ${user.username}`));
  role.addEventListener("click", () => openRoleDialog(user));
  const reset = el("button", { type: "button", className: "secondary small" }, "Reset password", hiddenText(` of ${user.username}`));
  reset.addEventListener("click", () => openPasswordDialog(user));
  const actions = el("td", { className: "row-actions" }, role, " ", reset);
  // The server says whom this admin may delete (not their own account).
  if (user.can_delete) {
    const remove = el("button", { type: "button", className: "danger small" }, `Delete ${user.username}`);
    remove.addEventListener("click", () => openDeleteDialog(user));
    actions.append(" ", remove);
  }
  return el(
    "tr",
    { "data-user-id": user.id },
    el("td", { className: "user-name", "data-label": "Username" }, user.username),
    el("td", { "data-label": "Display name" }, user.display_name ?? ""),
    el("td", { "data-label": "Role" }, user.role),
    actions,
  );
}

function render() {
  const words = folded(search.value).split(/\s+/).filter(Boolean);
  const shown = page.users.filter((user) => {
    const haystack = folded(`${user.username} ${user.display_name ?? ""}`);
    return words.every((word) => haystack.includes(word));
  });
  tbody.replaceChildren(...shown.map(userRow));
  searchCount.textContent = words.length ? `${shown.length} of ${page.users.length} users shown.` : "";
}

function showError(err) {
  if (redirectIfUnauthorized(err)) return;
  clearMessage(status);
  showMessage(alert, err.message);
}

function done(text) {
  clearMessage(alert);
  showMessage(status, text);
}

async function refresh() {
  try {
    page.users = await listUsers();
    render();
  } catch (err) {
    showError(err);
  }
}

/**
 * Opens a dialog from its <template>, its heading set to `title`; `send(form)` makes the change and resolves
 * to what the status line then says. Field problems are shown in the dialog; others close it and show in the
 * page's alert. The dialog leaves the page when it closes.
 */
function openFormDialog(templateId, title, send) {
  const dialog = document.getElementById(templateId).content.firstElementChild.cloneNode(true);
  const form = dialog.querySelector("form");
  const submit = form.querySelector("button[type=submit]");
  dialog.querySelector("h2").textContent = title;
  dialog.addEventListener("close", () => dialog.remove());
  dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    submit.disabled = true;
    try {
      const said = await send(form);
      dialog.close();
      done(said);
      await refresh();
    } catch (err) {
      if (redirectIfUnauthorized(err)) return;
      if (showFieldErrors(form, err).length) {
        dialog.close();
        showError(err);
      }
    } finally {
      submit.disabled = false;
    }
  });
  document.querySelector("main").append(dialog);
  return { dialog, form };
}

function openRoleDialog(user) {
  const { dialog, form } = openFormDialog("role-dialog-template", `Change role of ${user.username}`, async (sent) => {
    const changed = await updateUser(user.id, { role: sent.elements.role.value });
    return `The role of ${changed.username} is now ${changed.role}.`;
  });
  form.elements.role.value = user.role;
  dialog.showModal();
}

function openPasswordDialog(user) {
  const { dialog } = openFormDialog("password-dialog-template", `Reset password of ${user.username}`, async (sent) => {
    await updateUser(user.id, { password: sent.elements.password.value });
    return `New password set for ${user.username}.`;
  });
  dialog.showModal();
}

function openDeleteDialog(user) {
  page.deleting = user;
  document.getElementById("delete-text").textContent =
    `Delete ${user.username} (${user.display_name})? Their sessions end and the classrooms they own pass to you. This cannot be undone.`;
  deleteDialog.showModal();
}

function setUpDeleteDialog() {
  const confirm = document.getElementById("delete-confirm");
  document.getElementById("delete-cancel").addEventListener("click", () => deleteDialog.close());
  confirm.addEventListener("click", async () => {
    const user = page.deleting;
    confirm.disabled = true;
    try {
      await deleteUser(user.id);
      deleteDialog.close();
      done(`Deleted ${user.username}`);
      await refresh();
    } catch (err) {
      deleteDialog.close();
      showError(err);
    } finally {
      confirm.disabled = false;
    }
  });
}

function setUpCreateForm() {
  const form = document.getElementById("new-user-form");
  const submit = form.querySelector("button[type=submit]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearMessage(alert);
    clearMessage(status);
    clearFieldErrors(form);
    const fields = {
      username: form.elements.username.value.trim(),
      password: form.elements.password.value,
      role: form.elements.role.value,
    };
    const displayName = form.elements.display_name.value.trim();
    if (displayName) fields.display_name = displayName;
    submit.disabled = true;
    try {
      const user = await createUser(fields);
      form.reset();
      done(`Created ${user.username}`);
      await refresh();
    } catch (err) {
      if (redirectIfUnauthorized(err)) return;
      showMessage(alert, reportFormError(form, err));
    } finally {
      submit.disabled = false;
    }
  });
}

// ---- the recording modes teachers may use ----

/** What each mode is called on its checkbox; the server's description says what it records. */
const MODE_LABELS = Object.freeze({
  composite: "Composite",
  tracks: "Each participant's tracks",
  both: "Both: composite and each participant's tracks",
  multi_composite: "Several classrooms in one composite file",
  multi_separate: "Several classrooms, one recording each",
});

const sentence = (text) => (text ? `${text[0].toUpperCase()}${text.slice(1)}.` : "");

function modeRow({ mode, description, allowed }) {
  const id = `mode-${mode}`;
  const input = el("input", { type: "checkbox", id, name: "allowed", value: mode, checked: allowed });
  const hint = el("p", { id: `${id}-hint`, className: "hint" }, sentence(description));
  input.setAttribute("aria-describedby", hint.id);
  return [el("div", { className: "checkbox-row" }, input, el("label", { htmlFor: id }, MODE_LABELS[mode] ?? mode)), hint];
}

function showModes(fieldset, body) {
  const legend = fieldset.querySelector("legend");
  fieldset.replaceChildren(legend, ...body.modes.flatMap(modeRow));
}

async function setUpModesForm() {
  const form = document.getElementById("modes-form");
  const fieldset = document.getElementById("modes-fieldset");
  const said = document.getElementById("modes-status");
  const submit = document.getElementById("modes-save");
  // Nothing can be saved until the modes are shown: a fieldset that never loaded would PUT an empty
  // list and stop everyone recording.
  let loaded = false;
  submit.disabled = true;
  // The confirmation says what was saved until the next change.
  form.addEventListener("change", () => {
    said.textContent = "";
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearMessage(alert);
    clearFieldErrors(form);
    said.textContent = "";
    if (!loaded) return;
    const allowed = [...form.querySelectorAll("input[name=allowed]:checked")].map((input) => input.value);
    submit.disabled = true;
    try {
      const body = await request("PUT", "/api/recording-modes", { allowed });
      showModes(fieldset, body);
      const names = body.modes.filter((entry) => entry.allowed).map((entry) => MODE_LABELS[entry.mode] ?? entry.mode);
      said.textContent = names.length
        ? `Recording modes saved. Teachers may use: ${names.join("; ")}.`
        : "Recording modes saved. Teachers may not record in any mode.";
    } catch (err) {
      if (redirectIfUnauthorized(err)) return;
      const rest = reportFormError(form, err);
      if (rest) showMessage(alert, rest);
    } finally {
      submit.disabled = !loaded;
    }
  });
  try {
    showModes(fieldset, await request("GET", "/api/recording-modes"));
    loaded = true;
    submit.disabled = false;
  } catch (err) {
    showError(err);
  }
}

async function main() {
  const user = await initPage();
  if (!user) return;
  if (!user.can_manage_users) {
    showMessage(alert, "Only administrators can manage users.");
    return;
  }
  document.getElementById("admin-only").hidden = false;
  search.addEventListener("input", render);
  setUpCreateForm();
  setUpDeleteDialog();
  await Promise.all([refresh(), setUpModesForm()]);
}

main();
