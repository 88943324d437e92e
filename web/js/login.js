// Login page (/): logs in and goes on to ?next= or the dashboard.
import { getMe, login } from "/static/js/api.js";
import { clearMessage, showMessage } from "/static/js/nav.js";

/** Where to go after logging in: a same-origin path from ?next=, else the dashboard. */
function nextPath(search = location.search) {
  const next = new URLSearchParams(search).get("next");
  // "//host" and "/\host" are protocol-relative URLs to another origin.
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/classrooms";
  try {
    const url = new URL(next, location.origin);
    if (url.origin !== location.origin) return "/classrooms";
    return url.pathname + url.search + url.hash;
  } catch {
    return "/classrooms";
  }
}

async function redirectIfLoggedIn() {
  try {
    await getMe();
  } catch {
    return;
  }
  location.replace(nextPath());
}

function setUp() {
  const form = document.getElementById("login-form");
  const alert = document.getElementById("alert");
  const password = document.getElementById("password");
  const submit = form.querySelector("button[type=submit]");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearMessage(alert);
    submit.disabled = true;
    try {
      await login(form.elements.username.value.trim(), password.value);
      location.assign(nextPath());
    } catch (err) {
      showMessage(alert, err.message);
      password.value = "";
      password.focus();
      submit.disabled = false;
    }
  });
}

setUp();
redirectIfLoggedIn();
