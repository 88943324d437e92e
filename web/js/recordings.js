// Recorded Classes (/resources/recordings): the resource library of finished and running recordings, with
// an in-page player, downloads, why each ended, and renaming, publishing and deleting where the server says
// the user manages the recording (`can_manage`).
import {
  deleteRecording,
  listRecordings,
  recordingMediaUrl,
  recordingThumbnailUrl,
  updateRecording,
} from "/static/js/api.js";
import { clearMessage, el, initPage, redirectIfUnauthorized, showMessage } from "/static/js/nav.js";
import {
  FLAG_LABELS,
  formatDuration,
  formatSize,
  isActive,
  recordingLabels,
  stopReasonLabel,
} from "/static/js/recording.js";

// While a recording runs its row changes (state, then duration and size): the list follows it.
const REFRESH_MS = 5000;
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
  player: document.getElementById("player"),
  playerTitle: document.getElementById("player-title"),
  playerVideo: document.getElementById("player-video"),
  playerClose: document.getElementById("player-close"),
  deleteDialog: document.getElementById("delete-dialog"),
  deleteText: document.getElementById("delete-text"),
  deleteConfirm: document.getElementById("delete-confirm"),
  deleteCancel: document.getElementById("delete-cancel"),
};

// Dates with seconds: two recordings with the same name are told apart by when they started.
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

const library = {
  rows: new Map(), // recording id -> {key, row, recording, label}
  playing: null, // id of the recording in the player
  playerOpener: null, // the Play button that opened the player, focused again when it closes
  deleting: null, // id of the recording the delete dialog asks about
  editing: null, // id of the recording whose rename form is open
  timer: null,
  refreshError: null,
};

function formatDate(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateFormat.format(date);
}

function dateCell(iso) {
  if (!iso) return el("td");
  return el("td", {}, el("time", { dateTime: iso }, formatDate(iso)));
}

function thumbnailCell(recording, label) {
  if (recording.state !== "ready") return el("td");
  const img = el("img", {
    className: "thumbnail",
    src: recordingThumbnailUrl(recording.id),
    alt: `${label} thumbnail`,
    width: 128,
    height: 72,
    loading: "lazy",
  });
  img.addEventListener("error", () => img.replaceWith(el("span", { className: "hint" }, "No thumbnail")));
  return el("td", {}, img);
}

function stateCell(recording) {
  // A flag that only repeats the stop reason (disk_full, recovered) is not shown twice.
  const flags = (recording.flags ?? []).filter((flag) => flag !== recording.stop_reason);
  const badges = flags.map((flag) =>
    el("span", { className: `badge badge-flag badge-${flag.replace(/_/g, "-")}` }, FLAG_LABELS[flag] ?? flag),
  );
  if (recording.published) badges.push(el("span", { className: "badge badge-published" }, "published"));
  const stateName = STATE_NAMES[recording.state] ?? recording.state;
  const state = el("span", { className: `status status-${recording.state}` }, stateName);
  const cell = el("td", { className: "recording-state" }, state, ...badges);
  const reason = stopReasonLabel(recording);
  if (reason) {
    const className = `stop-reason stop-reason-${recording.stop_reason.replace(/_/g, "-")}`;
    cell.append(el("p", { className }, reason));
  }
  if (recording.state === "failed" && recording.error) cell.append(el("p", { className: "hint" }, recording.error));
  return cell;
}

function actionsCell(recording, label, manage) {
  const actions = el("div", { className: "row-actions" });
  if (recording.state === "ready") {
    const play = el("button", { type: "button", className: "small" }, `Play ${label}`);
    play.addEventListener("click", () => openPlayer(recording.id, play));
    const download = el(
      "a",
      { className: "download", href: recordingMediaUrl(recording.id, { download: true }) },
      `Download ${label}`,
    );
    actions.append(play, download);
  }
  if (manage) {
    const rename = el("button", { type: "button", className: "small secondary" }, `Rename ${label}`);
    rename.addEventListener("click", () => openRename(recording.id));
    const publishing = !recording.published;
    const publish = el(
      "button",
      { type: "button", className: "small secondary" },
      `${publishing ? "Publish" : "Unpublish"} ${label}`,
    );
    publish.addEventListener("click", () => setPublished(recording.id, publishing, publish));
    actions.append(rename, publish);
    // A running recording cannot be deleted (the server answers recording_active).
    if (!isActive(recording)) {
      const remove = el("button", { type: "button", className: "small danger" }, `Delete ${label}`);
      remove.addEventListener("click", () => askDelete(recording.id));
      actions.append(remove);
    }
  }
  return el("td", {}, actions);
}

function recordingRow(recording, label, manage) {
  return el(
    "tr",
    { "data-recording-id": recording.id, "data-state": recording.state },
    thumbnailCell(recording, label),
    el("td", { className: "recording-name" }, recording.name ?? ""),
    el("td", {}, recording.classroom?.name ?? ""),
    dateCell(recording.started_at),
    el("td", {}, formatDuration(recording.duration_ms)),
    el("td", {}, formatSize(recording.size_bytes)),
    stateCell(recording),
    actionsCell(recording, label, manage),
  );
}

/**
 * Brings the table up to date; rows that did not change stay as they are (keyboard focus, a row being
 * renamed, a thumbnail already loaded).
 */
function render(recordings) {
  const labels = recordingLabels(recordings, formatDate);
  const body = page.table.tBodies[0];
  const seen = new Set();
  let previous = null;
  for (const recording of recordings) {
    const label = labels.get(recording.id);
    const manage = Boolean(recording.can_manage);
    const key = JSON.stringify([recording, label, manage]);
    let entry = library.rows.get(recording.id);
    if (!entry || (entry.key !== key && library.editing !== recording.id)) {
      const row = recordingRow(recording, label, manage);
      if (entry) entry.row.replaceWith(row);
      entry = { key, row, recording, label };
      library.rows.set(recording.id, entry);
    }
    seen.add(recording.id);
    const wanted = previous ? previous.nextSibling : body.firstChild;
    if (wanted !== entry.row) body.insertBefore(entry.row, wanted);
    previous = entry.row;
  }
  for (const [id, entry] of library.rows) {
    if (seen.has(id)) continue;
    entry.row.remove();
    library.rows.delete(id);
    if (library.playing === id) closePlayer();
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

// ---- player -------------------------------------------------------------------------------------------

function openPlayer(id, opener) {
  const entry = library.rows.get(id);
  if (!entry) return;
  library.playing = id;
  library.playerOpener = opener;
  page.playerTitle.textContent = entry.label;
  page.playerVideo.src = recordingMediaUrl(id);
  page.player.hidden = false;
  page.player.scrollIntoView({ block: "nearest" });
  page.playerVideo.focus();
  // Pressing Play means play; if the browser holds it back, the player's own controls are there.
  page.playerVideo.play().catch(() => {});
}

function closePlayer() {
  const video = page.playerVideo;
  video.pause();
  video.removeAttribute("src");
  video.load();
  page.player.hidden = true;
  library.playing = null;
  const opener = library.playerOpener;
  library.playerOpener = null;
  if (opener?.isConnected) opener.focus();
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
  // Closing the form rebuilds the row; the keyboard goes back to its Rename button.
  const done = async () => {
    library.editing = null;
    const current = library.rows.get(id);
    if (current) current.key = null;
    await refresh();
    focusButton(id, (label) => `Rename ${label}`);
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

async function setPublished(id, published, button) {
  button.disabled = true;
  try {
    const changed = await updateRecording(id, { published });
    const now = published ? "published to the classroom's students" : "no longer published";
    showMessage(page.status, `${changed.name} is ${now}.`);
    clearMessage(page.alert);
    await refresh();
    // The row was rebuilt: keep the keyboard on the same control, now named the other way.
    focusButton(id, (label) => `${published ? "Unpublish" : "Publish"} ${label}`);
  } catch (err) {
    button.disabled = false;
    showError(err);
  }
}

/** Focuses the button of a recording's row whose text is name(label), if the row is still there. */
function focusButton(id, name) {
  const entry = library.rows.get(id);
  if (!entry) return;
  const text = name(entry.label);
  [...entry.row.querySelectorAll("button")].find((button) => button.textContent === text)?.focus();
}

function askDelete(id) {
  const entry = library.rows.get(id);
  if (!entry) return;
  library.deleting = id;
  page.deleteText.textContent = `Delete “${entry.label}”? Its video file is removed for good.`;
  page.deleteDialog.showModal();
}

async function confirmDelete() {
  const id = library.deleting;
  const entry = library.rows.get(id);
  page.deleteConfirm.disabled = true;
  try {
    await deleteRecording(id);
    page.deleteDialog.close();
    showMessage(page.status, `Deleted ${entry?.label ?? "the recording"}.`);
    clearMessage(page.alert);
    await refresh();
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
  page.playerClose.addEventListener("click", closePlayer);
  page.deleteConfirm.addEventListener("click", confirmDelete);
  page.deleteCancel.addEventListener("click", () => page.deleteDialog.close());
  page.deleteDialog.addEventListener("close", () => {
    library.deleting = null;
  });
  await refresh();
}

main();
