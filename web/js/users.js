// User administration (/admin/users, for those the server lets manage users: admins).
import { createUser, deleteUser, listUsers } from "/static/js/api.js";
import { clearMessage, el, initPage, redirectIfUnauthorized, showMessage } from "/static/js/nav.js";

const alert = document.getElementById("alert");
const status = document.getElementById("status");
const tbody = document.querySelector("#users tbody");

function userRow(user) {
  const actions = el("td");
  // The server says whom this admin may delete (not their own account).
  if (user.can_delete) {
    const remove = el("button", { type: "button", className: "danger small" }, `Delete ${user.username}`);
    remove.addEventListener("click", () => onDelete(user, remove));
    actions.append(remove);
  }
  return el(
    "tr",
    { "data-user-id": user.id },
    el("td", {}, user.username),
    el("td", {}, user.display_name ?? ""),
    el("td", {}, user.role),
    actions,
  );
}

function showError(err) {
  if (redirectIfUnauthorized(err)) return;
  clearMessage(status);
  showMessage(alert, err.message);
}

async function refresh() {
  try {
    const users = await listUsers();
    tbody.replaceChildren(...users.map(userRow));
  } catch (err) {
    showError(err);
  }
}

async function onDelete(user, button) {
  if (!confirm(`Delete user ${user.username}? This cannot be undone.`)) return;
  clearMessage(alert);
  clearMessage(status);
  button.disabled = true;
  try {
    await deleteUser(user.id);
    showMessage(status, `Deleted ${user.username}`);
    await refresh();
  } catch (err) {
    button.disabled = false;
    showError(err);
  }
}

function setUpCreateForm() {
  const form = document.getElementById("new-user-form");
  const submit = form.querySelector("button[type=submit]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearMessage(alert);
    clearMessage(status);
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
      showMessage(status, `Created ${user.username}`);
      await refresh();
    } catch (err) {
      showError(err);
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
  setUpCreateForm();
  await refresh();
}

main();
