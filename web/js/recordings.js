// Recorded Classes (/resources/recordings): the resource library of finished and running recordings.
import { listRecordings } from "/static/js/api.js";
import { el, initPage, redirectIfUnauthorized, showMessage } from "/static/js/nav.js";

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

function formatDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(Number(ms))) return "";
  const total = Math.round(Number(ms) / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mmss = `${String(m).padStart(h ? 2 : 1, "0")}:${String(s).padStart(2, "0")}`;
  return h ? `${h}:${mmss}` : mmss;
}

function formatSize(bytes) {
  if (bytes === null || bytes === undefined || !Number.isFinite(Number(bytes))) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = Number(bytes);
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

function dateCell(iso) {
  if (!iso) return el("td");
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return el("td", {}, iso);
  return el("td", {}, el("time", { dateTime: iso }, dateFormat.format(date)));
}

function recordingRow(recording) {
  return el(
    "tr",
    { "data-recording-id": recording.id },
    el("td", {}, recording.name ?? ""),
    el("td", {}, recording.classroom?.name ?? ""),
    dateCell(recording.started_at),
    el("td", {}, formatDuration(recording.duration_ms)),
    el("td", {}, formatSize(recording.size_bytes)),
    el("td", {}, recording.state ?? ""),
  );
}

async function main() {
  const user = await initPage();
  if (!user) return;
  const table = document.getElementById("recordings");
  try {
    const recordings = await listRecordings();
    table.tBodies[0].replaceChildren(...recordings.map(recordingRow));
    table.hidden = recordings.length === 0;
    document.getElementById("recordings-empty").hidden = recordings.length !== 0;
  } catch (err) {
    if (!redirectIfUnauthorized(err)) showMessage(document.getElementById("alert"), err.message);
  }
}

main();
