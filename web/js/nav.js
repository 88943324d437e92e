// Shared header of every logged-in page, and the small DOM helpers the pages share.
import { ApiError, getMe, logout } from "/static/js/api.js";

/** The login page address that brings the user back here afterwards. */
export function loginUrl() {
  return `/?next=${encodeURIComponent(location.pathname + location.search)}`;
}

/** Sends the user to the login page when the session is gone; true when it did. */
export function redirectIfUnauthorized(err) {
  if (err instanceof ApiError && err.status === 401) {
    location.assign(loginUrl());
    return true;
  }
  return false;
}

/**
 * Loads the current user and renders the header into #site-header.
 * Resolves to the user, or to null when the page is being left for the login page.
 */
export async function initPage() {
  let user;
  try {
    user = await getMe();
  } catch (err) {
    if (redirectIfUnauthorized(err)) return null;
    showMessage(document.getElementById("alert"), err.message);
    return null;
  }
  renderHeader(document.getElementById("site-header"), user);
  return user;
}

/**
 * The first stop of the keyboard on every page: a link past the header to the page's <main>. Following it
 * moves focus there, not only the scroll position; main is focusable (tabindex -1) only until focus leaves
 * it, so that a click inside main later does not focus the whole region.
 */
function skipLink() {
  const main = document.querySelector("main");
  if (!main) return null;
  if (!main.id) main.id = "main";
  const link = el("a", { className: "skip-link", href: `#${main.id}` }, "Skip to main content");
  link.addEventListener("click", (event) => {
    event.preventDefault();
    main.tabIndex = -1;
    main.addEventListener("blur", () => main.removeAttribute("tabindex"), { once: true });
    main.focus();
  });
  return link;
}

function renderHeader(header, user) {
  const brand = el("a", { className: "brand", href: "/classrooms" }, "Aula");

  const nav = el("nav", { "aria-label": "Main" });
  const links = el("ul", { className: "nav-links" });
  links.append(el("li", {}, navLink("/classrooms", "Classrooms")));

  const resources = el("li", { className: "nav-group" });
  const resourcesLabel = el("span", { className: "nav-group-label", id: "nav-resources" }, "Resources");
  const resourceLinks = el("ul", { "aria-labelledby": "nav-resources" });
  resourceLinks.append(el("li", {}, navLink("/resources/recordings", "Recorded Classes")));
  resources.append(resourcesLabel, resourceLinks);
  links.append(resources);

  if (user.can_manage_users) links.append(el("li", {}, navLink("/admin/users", "Users")));
  links.append(el("li", {}, navLink("/settings", "Settings")));

  const account = el("div", { className: "nav-account" });
  const name = el("span", { className: "nav-user" }, user.display_name || user.username);
  const logoutButton = el("button", { type: "button", className: "secondary" }, "Log out");
  logoutButton.addEventListener("click", async () => {
    logoutButton.disabled = true;
    try {
      await logout();
    } catch {
      // The session is dropped server-side or already gone; the login page is right either way.
    }
    location.assign("/");
  });
  account.append(name, logoutButton);

  nav.append(links);
  // The account sits after the navigation, not in it: on a phone it shares the brand's row.
  header.replaceChildren(...[skipLink(), brand, nav, account].filter(Boolean));
}

function navLink(href, text) {
  const link = el("a", { href }, text);
  const here = location.pathname.replace(/\/+$/, "") || "/";
  if (here === href || here.startsWith(`${href}/`)) link.setAttribute("aria-current", "page");
  return link;
}

/** Creates an element; "role", "aria-*" and "data-*" keys become attributes, other keys properties. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "role" || key.startsWith("aria-") || key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children);
  return node;
}

/** Shows text in a (role="alert" or role="status") element, which is hidden while empty. */
export function showMessage(element, text) {
  if (!element) return;
  element.textContent = text ?? "";
  element.hidden = !text;
}

export function clearMessage(element) {
  showMessage(element, "");
}
