// Recorded Classes (/resources/recordings): the resource library of finished and running recordings, with
// Play (the player page, /recordings/{id}), downloads, why each ended, and renaming, publishing and
// deleting where the server says the user manages the recording (`can_manage`). Each row's actions sit in
// one "Actions" menu button (the WAI-ARIA menu button pattern), so a row stays one line high; a running
// recording's length and size follow the server's figures while it records. A recording's mode shows as a
// badge ("Tracks", "Mixed + tracks"), a session's classrooms as "Biology A + Biology B", and a recording with
// each participant's own tracks has a "Tracks (N)" disclosure: the list of its tracks (who, source, codec,
// where each begins, its length), a download per track and "Download all tracks (.zip)". A tracks-only
// recording has no mixed file: no Play and no Download, its tracks instead.
import {
  deleteRecording,
  listRecordings,
  recordingMediaUrl,
  recordingThumbnailUrl,
  request,
  updateRecording,
} from "/static/js/api.js";
import { clearMessage, el, initPage, redirectIfUnauthorized, showMessage } from "/static/js/nav.js";
import {
  FLAG_LABELS,
  formatDateTime,
  formatDuration,
  formatSize,
  isActive,
  isPaused,
  recordingLabels,
  stopReasonLabel,
} from "/static/js/recording.js";
import {
  classroomsText,
  codecLabel,
  formatOffset,
  hasMixedFile,
  hasTrackMode,
  modeBadge,
  offersTracks,
  sessionSiblings,
  sortTracks,
  sourceLabel,
  trackCount,
  trackLabel,
  trackOwner,
} from "/static/js/tracks.js";

// While a recording runs its row changes (state, then length and size): the list follows it.
const REFRESH_MS = 2000;
const STATE_NAMES = {
  starting: "Starting",
  recording: "Recording",
  finishing: "Finishing",
  ready: "Ready",
  failed: "Failed",
};

const page = {
  alert: document.getElementById("alert"),
  status: document.getElementById("status"),
  table: document.getElementById("recordings"),
  empty: document.getElementById("recordings-empty"),
  deleteDialog: document.getElementById("delete-dialog"),
  deleteText: document.getElementById("delete-text"),
  deleteConfirm: document.getElementById("delete-confirm"),
  deleteCancel: document.getElementById("delete-cancel"),
};


const library = {
  rows: new Map(), // recording id -> {key, row, tracksRow, recording, label}
  tracks: new Map(), // recording id -> its Tracks, once read (a finished recording's do not change)
  reading: new Map(), // recording id -> the request reading its tracks
  expanded: new Set(), // ids of the recordings whose tracks are shown
  deleting: null, // id of the recording the delete dialog asks about
  editing: null, // id of the recording whose rename form is open
  menu: null, // the open actions menu: {button, menu}
  timer: null,
  refreshError: null,
};


const tracksPath = (id) => `/api/recordings/${encodeURIComponent(id)}/tracks`;
const listTracks = (id) => request("GET", tracksPath(id)).then((d) => d.tracks ?? []);
const tracksZipUrl = (id) => `${tracksPath(id)}.zip`;
const trackMediaUrl = (id, track) => track.media_url ?? `${tracksPath(id)}/${encodeURIComponent(track.id)}/media`;

function dateCell(iso) {
  if (!iso) return el("td");
  return el("td", { "data-label": "Date" }, el("time", { dateTime: iso }, formatDateTime(iso)));
}

function thumbnailCell(recording, label) {
  if (recording.state !== "ready") return el("td", { className: "recording-thumbnail" });
  const img = el("img", {
    className: "thumbnail",
    src: recordingThumbnailUrl(recording.id),
    alt: `${label} thumbnail`,
    width: 128,
    height: 72,
    loading: "lazy",
  });
  img.addEventListener("error", () => img.replaceWith(el("span", { className: "hint" }, "No thumbnail")));
  return el("td", { className: "recording-thumbnail" }, img);
}

function stateCell(recording) {
  // A flag that only repeats the stop reason (disk_full, recovered) is not shown twice.
  const flags = (recording.flags ?? []).filter((flag) => flag !== recording.stop_reason);
  const badges = flags.map((flag) =>
    el("span", { className: `badge badge-flag badge-${flag.replace(/_/g, "-")}` }, FLAG_LABELS[flag] ?? flag),
  );
  if (recording.published) badges.push(el("span", { className: "badge badge-published" }, "published"));
  // A paused recording still runs, but keeps nothing: it says so, as the classroom and dashboard do.
  const paused = isPaused(recording);
  const stateName = paused ? "Recording paused" : (STATE_NAMES[recording.state] ?? recording.state);
  const stateClass = `status status-${recording.state}${paused ? " status-paused" : ""}`;
  const state = el("span", { className: stateClass }, stateName);
  const cell = el("td", { className: "recording-state", "data-label": "State" }, state, ...badges);
  const reason = stopReasonLabel(recording);
  if (reason) {
    const className = `stop-reason stop-reason-${recording.stop_reason.replace(/_/g, "-")}`;
    cell.append(" ", el("span", { className }, reason));
  }
  if (recording.state === "failed" && recording.error) cell.append(el("p", { className: "hint" }, recording.error));
  return cell;
}

/** The row's menu items (real buttons and a link), by what this user may do with the recording. */
function menuItems(recording, manage) {
  const items = [];
  if (recording.state === "ready" && hasMixedFile(recording)) {
    // The player page: chapters, the chat replayed, the original clock, the classroom's other recordings.
    const play = el("a", { role: "menuitem", href: `/recordings/${encodeURIComponent(recording.id)}` }, "Play");
    const href = recordingMediaUrl(recording.id, { download: true });
    items.push(play, el("a", { role: "menuitem", href }, "Download"));
  }
  if (manage) {
    const rename = el("button", { type: "button", role: "menuitem" }, "Rename");
    rename.addEventListener("click", () => openRename(recording.id));
    const publishing = !recording.published;
    const publish = el("button", { type: "button", role: "menuitem" }, publishing ? "Publish" : "Unpublish");
    publish.addEventListener("click", () => setPublished(recording.id, publishing));
    items.push(rename, publish);
    // A running recording cannot be deleted (the server answers recording_active).
    if (!isActive(recording)) {
      const remove = el("button", { type: "button", role: "menuitem", className: "menu-danger" }, "Delete");
      remove.addEventListener("click", () => askDelete(recording.id));
      items.push(remove);
    }
  }
  return items;
}

function actionsCell(recording, label, manage) {
  const items = menuItems(recording, manage);
  const cell = el("td", { className: "recording-actions" });
  if (offersTracks(recording)) cell.append(tracksToggle(recording, label), " ");
  if (items.length) cell.append(actionsMenu(recording.id, label, items));
  return cell;
}

/** The name, and the mode's badge for a recording with each participant's tracks ("Tracks"). */
function nameCell(recording) {
  const cell = el("td", { className: "recording-name", "data-label": "Name" }, recording.name ?? "");
  const mode = modeBadge(recording);
  if (mode) cell.append(" ", el("span", { className: `badge badge-mode badge-mode-${recording.mode}` }, mode));
  return cell;
}

/** The classroom, or a session's classrooms ("Biology A + Biology B"); a recording of a session that keeps
 * one recording per classroom also names the session's other classrooms. */
function classroomCell(text, siblings) {
  const cell = el("td", { className: "recording-classroom", "data-label": "Classroom" }, text);
  if (siblings.length) {
    cell.append(" ", el("span", { className: "session-note" }, `(session with ${siblings.join(" + ")})`));
  }
  return cell;
}

function recordingRow(recording, label, manage, classrooms) {
  return el(
    "tr",
    { "data-recording-id": recording.id, "data-state": recording.state },
    thumbnailCell(recording, label),
    nameCell(recording),
    classroomCell(classrooms.text, classrooms.siblings),
    dateCell(recording.started_at),
    el("td", { className: "recording-duration", "data-label": "Duration" }),
    el("td", { className: "recording-size", "data-label": "Size" }),
    stateCell(recording),
    actionsCell(recording, label, manage),
  );
}

// ---- tracks: a disclosure button in the row, the list in a row of its own under it -------------------------

function tracksToggleText(recording) {
  const count = library.tracks.get(recording.id)?.length ?? trackCount(recording);
  return count === null ? "Tracks" : `Tracks (${count})`;
}

/** "Tracks (N)": shows or hides the row under the recording that lists its tracks. */
function tracksToggle(recording, label) {
  const expanded = library.expanded.has(recording.id);
  const button = el(
    "button",
    {
      type: "button",
      className: "small secondary tracks-toggle",
      "aria-expanded": String(expanded),
      "aria-controls": `tracks-${recording.id}`,
      "aria-describedby": `tracks-of-${recording.id}`,
    },
    tracksToggleText(recording),
  );
  // What the button opens, for screen readers (the visible text is short).
  const hidden = el("span", { id: `tracks-of-${recording.id}`, className: "visually-hidden" }, `of ${label}`);
  button.addEventListener("click", () => toggleTracks(recording.id));
  return el("span", { className: "tracks-toggle-wrap" }, button, hidden);
}

/** The row under a recording holding its tracks (hidden until its button opens it). */
function tracksRow(recording, label) {
  const panel = el("div", { id: `tracks-${recording.id}`, className: "tracks-panel" });
  const row = el("tr", { className: "tracks-row", "data-tracks-for": recording.id }, el("td", { colSpan: 8 }, panel));
  row.hidden = !library.expanded.has(recording.id);
  fillTracks(panel, recording, label);
  return row;
}

/** The panel's content: the tracks as read, or that they are being read, or why they could not be. */
function fillTracks(panel, recording, label, error = null) {
  const tracks = library.tracks.get(recording.id);
  if (error) {
    panel.replaceChildren(el("p", { className: "message error tracks-error" }, `Could not list the tracks: ${error}`));
    return;
  }
  if (!tracks) {
    panel.replaceChildren(el("p", { className: "hint" }, "Reading the tracks…"));
    return;
  }
  if (!tracks.length) {
    panel.replaceChildren(el("p", { className: "hint" }, "This recording has no tracks."));
    return;
  }
  const head = el(
    "tr",
    {},
    ...["Participant", "Source", "Codec", "Starts at", "Duration", "Size", "Download"].map((text) =>
      el("th", { scope: "col" }, text),
    ),
  );
  const rows = sortTracks(tracks).map((track) => {
    const name = trackLabel(track);
    const link = el(
      "a",
      { href: trackMediaUrl(recording.id, track), download: "", "aria-label": `Download ${name}` },
      "Download",
    );
    return el(
      "tr",
      { "data-track-id": track.id },
      el("td", { className: "track-owner", "data-label": "Participant" }, trackOwner(track)),
      el("td", { "data-label": "Source" }, sourceLabel(track.source)),
      el("td", { "data-label": "Codec" }, codecLabel(track.codec)),
      el("td", { className: "track-figure", "data-label": "Starts at" }, formatOffset(track.offset_ms)),
      el("td", { className: "track-figure", "data-label": "Duration" }, formatDuration(track.duration_ms)),
      el("td", { className: "track-figure", "data-label": "Size" }, formatSize(track.size_bytes)),
      el("td", { className: "track-download" }, link),
    );
  });
  const table = el(
    "table",
    { className: "track-list" },
    el("caption", {}, `Tracks of ${label}`),
    el("thead", {}, head),
    el("tbody", {}, ...rows),
  );
  const zip = el(
    "a",
    { href: tracksZipUrl(recording.id), download: "", className: "button small secondary tracks-zip" },
    "Download all tracks (.zip)",
  );
  const hint = el(
    "p",
    { className: "hint" },
    "Each file is one participant's source as it was sent, not re-encoded; “Starts at” is where it begins on the recording's timeline. The zip holds a manifest.json saying so.",
  );
  panel.replaceChildren(el("div", { className: "table-wrap" }, table), el("p", { className: "tracks-actions" }, zip), hint);
}

/** Reads a recording's tracks once (a finished recording's tracks stay as they are), then shows them. */
async function readTracks(id) {
  if (library.tracks.has(id)) return;
  let reading = library.reading.get(id);
  if (!reading) {
    reading = listTracks(id);
    library.reading.set(id, reading);
  }
  let error = null;
  try {
    library.tracks.set(id, await reading);
  } catch (err) {
    if (redirectIfUnauthorized(err)) return;
    error = err.message;
  } finally {
    library.reading.delete(id);
  }
  const entry = library.rows.get(id);
  if (!entry) return;
  const button = entry.row.querySelector(".tracks-toggle");
  if (button) {
    const text = tracksToggleText(entry.recording);
    if (button.textContent !== text) button.textContent = text;
  }
  const panel = entry.tracksRow?.querySelector(".tracks-panel");
  if (panel) fillTracks(panel, entry.recording, entry.label, error);
}

function toggleTracks(id) {
  const entry = library.rows.get(id);
  if (!entry?.tracksRow) return;
  const open = !library.expanded.has(id);
  if (open) library.expanded.add(id);
  else library.expanded.delete(id);
  entry.tracksRow.hidden = !open;
  entry.row.querySelector(".tracks-toggle")?.setAttribute("aria-expanded", String(open));
  if (open) readTracks(id);
}

/** Length and size change every few seconds while a recording runs: only their text is replaced. */
function showFigures(row, recording) {
  const figures = [
    [".recording-duration", formatDuration(recording.duration_ms)],
    [".recording-size", formatSize(recording.size_bytes)],
  ];
  for (const [selector, text] of figures) {
    const cell = row.querySelector(selector);
    if (cell.textContent !== text) cell.textContent = text;
  }
}

// ---- row actions: a menu button (https://www.w3.org/WAI/ARIA/apg/patterns/menu-button/) ----------------

/** The "Actions" button of a row and its menu; the button's name says whose actions they are. */
function actionsMenu(id, label, items) {
  const buttonId = `actions-${id}`;
  const menuId = `actions-menu-${id}`;
  const chevron = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  chevron.setAttribute("viewBox", "0 0 10 6");
  chevron.setAttribute("aria-hidden", "true");
  chevron.setAttribute("class", "menu-chevron");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", "M1 1l4 4 4-4");
  chevron.append(path);
  const button = el(
    "button",
    {
      type: "button",
      id: buttonId,
      className: "small secondary menu-button",
      "aria-haspopup": "menu",
      "aria-expanded": "false",
      "aria-controls": menuId,
      "aria-label": `Actions for ${label}`,
    },
    "Actions",
    chevron,
  );
  for (const item of items) item.tabIndex = -1;
  const menu = el("div", { id: menuId, role: "menu", "aria-labelledby": buttonId, className: "row-menu" }, ...items);
  menu.hidden = true;
  const wrap = el("div", { className: "menu-wrap" }, button, menu);
  button.addEventListener("click", () => (menu.hidden ? openMenu(button, menu, 0) : closeMenu(true)));
  button.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    event.preventDefault();
    openMenu(button, menu, event.key === "ArrowDown" ? 0 : -1);
  });
  menu.addEventListener("keydown", (event) => menuKey(event, menu));
  // The item's own action runs first; then the menu closes, giving the keyboard back to its button unless
  // the action moved it (the rename field, the delete dialog).
  menu.addEventListener("click", (event) => {
    if (event.target.closest('[role="menuitem"]')) closeMenu(menu.contains(document.activeElement));
  });
  wrap.addEventListener("focusout", (event) => {
    if (library.menu?.menu === menu && !wrap.contains(event.relatedTarget)) closeMenu(false);
  });
  return wrap;
}

function openMenu(button, menu, index) {
  if (library.menu && library.menu.menu !== menu) closeMenu(false);
  library.menu = { button, menu };
  menu.hidden = false;
  button.setAttribute("aria-expanded", "true");
  placeMenu();
  const items = menuItemsOf(menu);
  items.at(index)?.focus();
}

function closeMenu(focusButton) {
  const open = library.menu;
  if (!open) return;
  library.menu = null;
  open.menu.hidden = true;
  open.button.setAttribute("aria-expanded", "false");
  if (focusButton && open.button.isConnected) open.button.focus();
}

function menuItemsOf(menu) {
  return [...menu.querySelectorAll('[role="menuitem"]')];
}

/**
 * The menu floats over the page (fixed, so the table's scrolling box does not clip it): under its button,
 * right-aligned with it, or above it when there is no room below.
 */
function placeMenu() {
  const open = library.menu;
  if (!open) return;
  const { button, menu } = open;
  const anchor = button.getBoundingClientRect();
  const height = menu.offsetHeight;
  const width = menu.offsetWidth;
  const below = anchor.bottom + 4;
  const top = below + height > window.innerHeight && anchor.top - height - 4 >= 0 ? anchor.top - height - 4 : below;
  const left = Math.min(Math.max(4, anchor.right - width), window.innerWidth - width - 4);
  menu.style.top = `${Math.round(top)}px`;
  menu.style.left = `${Math.round(Math.max(4, left))}px`;
}

function menuKey(event, menu) {
  const items = menuItemsOf(menu);
  const current = items.indexOf(document.activeElement);
  let next = null;
  if (event.key === "ArrowDown") next = (current + 1) % items.length;
  else if (event.key === "ArrowUp") next = (current - 1 + items.length) % items.length;
  else if (event.key === "Home") next = 0;
  else if (event.key === "End") next = items.length - 1;
  else if (event.key === "Escape") {
    event.preventDefault();
    closeMenu(true);
    return;
  } else if (event.key === " " && document.activeElement?.tagName === "A") {
    event.preventDefault();
    document.activeElement.click();
    return;
  } else if (event.key.length === 1 && /\S/.test(event.key)) {
    // Typing a letter moves to the next item that starts with it.
    const key = event.key.toLowerCase();
    const order = [...items.slice(current + 1), ...items.slice(0, current + 1)];
    const found = order.find((item) => item.textContent.trim().toLowerCase().startsWith(key));
    if (found) next = items.indexOf(found);
  }
  if (next === null) return;
  event.preventDefault();
  items[next].focus();
}

/** The keyboard goes to a row's Actions button (after its menu's action rebuilt the row). */
function focusActions(id) {
  library.rows.get(id)?.row.querySelector(".menu-button")?.focus();
}

/**
 * Brings the table up to date; rows that did not change stay as they are (keyboard focus, a row being
 * renamed, a thumbnail already loaded).
 */
function render(recordings) {
  const labels = recordingLabels(recordings, formatDateTime);
  const body = page.table.tBodies[0];
  const seen = new Set();
  let previous = null;
  for (const recording of recordings) {
    const label = labels.get(recording.id);
    const manage = Boolean(recording.can_manage);
    const classrooms = { text: classroomsText(recording), siblings: sessionSiblings(recording, recordings) };
    // Length and size are not part of the key: while recording they change at every refresh, and the row
    // (its open menu, the keyboard's place in it) must stay.
    const { duration_ms: _duration, size_bytes: _size, ...rest } = recording;
    const key = JSON.stringify([rest, label, manage, classrooms]);
    let entry = library.rows.get(recording.id);
    if (!entry || (entry.key !== key && library.editing !== recording.id)) {
      const row = recordingRow(recording, label, manage, classrooms);
      const extra = offersTracks(recording) ? tracksRow(recording, label) : null;
      const focused = entry?.row.contains(document.activeElement);
      const focusedTracks = entry?.tracksRow?.contains(document.activeElement);
      if (entry) {
        if (library.menu && entry.row.contains(library.menu.menu)) closeMenu(false);
        entry.row.replaceWith(row);
        entry.tracksRow?.remove();
      }
      entry = { key, row, tracksRow: extra, recording, label };
      library.rows.set(recording.id, entry);
      if (!extra) library.expanded.delete(recording.id);
      if (focused) row.querySelector(".menu-button")?.focus();
      if (focusedTracks) row.querySelector(".tracks-toggle")?.focus();
      // The button says how many tracks there are: the server counts them, or they are read once.
      if (extra && (library.expanded.has(recording.id) || trackCount(recording) === null)) readTracks(recording.id);
    }
    entry.recording = recording;
    showFigures(entry.row, recording);
    seen.add(recording.id);
    for (const node of [entry.row, entry.tracksRow]) {
      if (!node) continue;
      const wanted = previous ? previous.nextSibling : body.firstChild;
      if (wanted !== node) body.insertBefore(node, wanted);
      previous = node;
    }
  }
  for (const [id, entry] of library.rows) {
    if (seen.has(id)) continue;
    if (library.menu && entry.row.contains(library.menu.menu)) closeMenu(false);
    entry.row.remove();
    entry.tracksRow?.remove();
    library.rows.delete(id);
    library.expanded.delete(id);
    library.tracks.delete(id);
    if (library.editing === id) library.editing = null;
  }
  page.table.hidden = recordings.length === 0;
  page.empty.hidden = recordings.length !== 0;
}

async function refresh() {
  clearTimeout(library.timer);
  library.timer = null;
  let recordings;
  try {
    recordings = await listRecordings();
  } catch (err) {
    if (redirectIfUnauthorized(err)) return;
    library.refreshError = err.message;
    showMessage(page.alert, err.message);
    library.timer = setTimeout(refresh, REFRESH_MS);
    return;
  }
  if (library.refreshError !== null && page.alert.textContent === library.refreshError) clearMessage(page.alert);
  library.refreshError = null;
  render(recordings);
  if (recordings.some(isActive)) library.timer = setTimeout(refresh, REFRESH_MS);
}

function showError(err) {
  if (!redirectIfUnauthorized(err)) showMessage(page.alert, err.message);
}

// ---- managing -----------------------------------------------------------------------------------------

function openRename(id) {
  const entry = library.rows.get(id);
  if (!entry || library.editing !== null) return;
  library.editing = id;
  const cell = entry.row.querySelector(".recording-name");
  const inputId = `rename-${id}`;
  const input = el("input", { id: inputId, name: "name", value: entry.recording.name, maxLength: 200 });
  input.required = true;
  const save = el("button", { type: "submit", className: "small" }, "Save name");
  const cancel = el("button", { type: "button", className: "small secondary" }, "Cancel");
  const form = el(
    "form",
    { className: "rename-form" },
    el("label", { htmlFor: inputId }, `New name for ${entry.label}`),
    input,
    el("span", { className: "row-actions" }, save, cancel),
  );
  // Closing the form rebuilds the row; the keyboard goes back to its Actions button.
  const done = async () => {
    library.editing = null;
    const current = library.rows.get(id);
    if (current) current.key = null;
    await refresh();
    focusActions(id);
  };
  cancel.addEventListener("click", done);
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") done();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = input.value.trim();
    if (!name) return;
    for (const control of form.elements) control.disabled = true;
    try {
      const renamed = await updateRecording(id, { name });
      showMessage(page.status, `Renamed to ${renamed.name}.`);
      clearMessage(page.alert);
      await done();
    } catch (err) {
      for (const control of form.elements) control.disabled = false;
      showError(err);
      input.focus();
    }
  });
  cell.replaceChildren(form);
  input.focus();
  input.select();
}

async function setPublished(id, published) {
  try {
    const changed = await updateRecording(id, { published });
    const now = published ? "published to the classroom's students" : "no longer published";
    showMessage(page.status, `${changed.name} is ${now}.`);
    clearMessage(page.alert);
    await refresh();
    // The row was rebuilt: the keyboard stays on its Actions button.
    focusActions(id);
  } catch (err) {
    showError(err);
  }
}

function askDelete(id) {
  const entry = library.rows.get(id);
  if (!entry) return;
  library.deleting = id;
  const recording = entry.recording;
  let files = "Its video file is";
  if (recording.mode === "tracks") files = "Its track files are";
  else if (hasTrackMode(recording)) files = "Its video file and its track files are";
  page.deleteText.textContent = `Delete “${entry.label}”? ${files} removed for good.`;
  page.deleteDialog.showModal();
}

/** The recording row after `entry`'s (or, for the last, before it), skipping rows that list tracks. */
function neighbourRow(entry) {
  if (!entry) return null;
  const isRecording = (node) => node?.matches("[data-recording-id]");
  let node = (entry.tracksRow ?? entry.row).nextElementSibling;
  while (node && !isRecording(node)) node = node.nextElementSibling;
  if (node) return node;
  node = entry.row.previousElementSibling;
  while (node && !isRecording(node)) node = node.previousElementSibling;
  return node;
}

async function confirmDelete() {
  const id = library.deleting;
  const entry = library.rows.get(id);
  page.deleteConfirm.disabled = true;
  try {
    await deleteRecording(id);
    library.deleting = null; // nothing to go back to: the row goes
    page.deleteDialog.close();
    showMessage(page.status, `Deleted ${entry?.label ?? "the recording"}.`);
    clearMessage(page.alert);
    const next = neighbourRow(entry);
    await refresh();
    // The keyboard goes to the next row's Actions button, or to the page's heading when none is left.
    const target = next?.isConnected ? next.querySelector(".menu-button") : null;
    if (target) target.focus();
    else document.querySelector("h1")?.focus();
  } catch (err) {
    page.deleteDialog.close();
    showError(err);
  } finally {
    page.deleteConfirm.disabled = false;
    library.deleting = null;
  }
}

// ---- start --------------------------------------------------------------------------------------------

async function main() {
  const user = await initPage();
  if (!user) return;
  page.deleteConfirm.addEventListener("click", confirmDelete);
  page.deleteCancel.addEventListener("click", () => page.deleteDialog.close());
  page.deleteDialog.addEventListener("close", () => {
    // Cancelled: the keyboard goes back to the row's Actions button (after a delete the row is gone).
    if (library.deleting !== null) focusActions(library.deleting);
    library.deleting = null;
  });
  window.addEventListener("resize", placeMenu);
  document.addEventListener("scroll", placeMenu, { capture: true, passive: true });
  await refresh();
}

main();
