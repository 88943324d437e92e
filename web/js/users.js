// User administration (/admin/users, for those the server lets manage users: admins): search, create,
// change a role, reset a password, delete (with confirmation; never one's own account: the server says
// whom with can_delete).
import { createUser, deleteUser, listUsers, updateUser } from "/static/js/api.js";
import { clearFieldErrors, showFieldErrors } from "/static/js/forms.js";
import { clearMessage, el, initPage, redirectIfUnauthorized, showMessage } from "/static/js/nav.js";

const ROLES = ["student", "teacher", "admin"];

const alert = document.getElementById("alert");
const status = document.getElementById("status");
const tbody = document.querySelector("#users tbody");
const search = document.getElementById("user-search");
const searchCount = document.getElementById("user-search-count");
const passwordDialog = document.getElementById("password-dialog");
const passwordForm = document.getElementById("password-form");
const deleteDialog = document.getElementById("delete-dialog");

const page = {
  users: [],
  resetting: null, // the user whose password the dialog sets
  deleting: null, // the user the delete dialog asks about
};

/** Lower case without accents, so "lea" finds "Léa". */
const folded = (text) => text.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase();

function hiddenText(text) {
  return el("span", { className: "visually-hidden" }, text);
}

function roleCell(user) {
  const id = `role-${user.id}`;
  const select = el("select", { id });
  select.append(...ROLES.map((name) => el("option", { value: name }, name)));
  select.value = user.role;
  const save = el("button", { type: "button", className: "secondary small" }, "Save role", hiddenText(` of ${user.username}`));
  save.addEventListener("click", () => onRole(user, select, save));
  return el(
    "td",
    { className: "role-cell" },
    el("label", { htmlFor: id, className: "visually-hidden" }, `Role of ${user.username}`),
    select,
    " ",
    save,
  );
}

function userRow(user) {
  const reset = el("button", { type: "button", className: "secondary small" }, "Reset password", hiddenText(` of ${user.username}`));
  reset.addEventListener("click", () => openPasswordDialog(user));
  const actions = el("td", { className: "row-actions" }, reset);
  // The server says whom this admin may delete (not their own account).
  if (user.can_delete) {
    const remove = el("button", { type: "button", className: "danger small" }, `Delete ${user.username}`);
    remove.addEventListener("click", () => openDeleteDialog(user));
    actions.append(" ", remove);
  }
  return el(
    "tr",
    { "data-user-id": user.id },
    el("td", {}, user.username),
    el("td", {}, user.display_name ?? ""),
    roleCell(user),
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

async function onRole(user, select, button) {
  clearMessage(alert);
  clearMessage(status);
  button.disabled = true;
  try {
    const changed = await updateUser(user.id, { role: select.value });
    done(`The role of ${changed.username} is now ${changed.role}.`);
    await refresh();
  } catch (err) {
    button.disabled = false;
    select.value = user.role;
    showError(err);
  }
}

function openPasswordDialog(user) {
  page.resetting = user;
  clearFieldErrors(passwordForm);
  passwordForm.reset();
  document.getElementById("password-heading").textContent = `Reset password of ${user.username}`;
  passwordDialog.showModal();
}

function setUpPasswordDialog() {
  const submit = passwordForm.querySelector("button[type=submit]");
  document.getElementById("password-cancel").addEventListener("click", () => passwordDialog.close());
  passwordForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(passwordForm);
    submit.disabled = true;
    try {
      const user = page.resetting;
      await updateUser(user.id, { password: passwordForm.elements.password.value });
      passwordDialog.close();
      done(`New password set for ${user.username}.`);
    } catch (err) {
      if (redirectIfUnauthorized(err)) return;
      const rest = showFieldErrors(passwordForm, err);
      if (rest.length) {
        passwordDialog.close();
        showError(err);
      }
    } finally {
      submit.disabled = false;
    }
  });
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
      const rest = showFieldErrors(form, err);
      if (rest.length) showMessage(alert, rest.join(" "));
      else if (Object.keys(err.fields ?? {}).length > 1) showMessage(alert, err.message);
    } finally {
      submit.disabled = false;
    }
  });
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
  setUpPasswordDialog();
  setUpDeleteDialog();
  await refresh();
}

main();
