// The player (/recordings/{id}): a recording's video with its own controls (play, seek, speed, loop of the
// whole or of one chapter, the chat as subtitles), its chapters (also as marks under the seek bar), the
// class's timeline in words (each entry seeks to its moment, the one playing is marked, filtered by kind),
// its chat replayed beside it as the moments play, the original time of day of the moment on screen (the
// timeline's clock anchors: pauses are cut out of the file), the downloads (the MP4 with its chapters, the
// timeline as text, chapters and chat as WebVTT, also the video's tracks) and the other recordings of the
// same classroom to switch to. Those who manage the recording edit and delete its bookmarks here
// (web/js/player_bookmarks.js). The arithmetic is web/js/timeline.js's.
import { ApiError, getRecording, listRecordings, recordingMediaUrl, request } from "/static/js/api.js";
import { el, initPage, redirectIfUnauthorized, showMessage } from "/static/js/nav.js";
import { BookmarkEditor } from "/static/js/player_bookmarks.js";
import { formatDateTime } from "/static/js/recording.js";
import {
  SPEEDS,
  chapterAt,
  chatLines,
  currentEntry,
  filterKinds,
  formatMediaTime,
  loopJump,
  markPercent,
  originalTime,
  playedCount,
  sameClassroom,
  spokenMediaTime,
  timelineEntries,
  withCurrentBookmarks,
} from "/static/js/timeline.js";

const SEEK_STEP_MS = 5000;

const page = {
  title: document.getElementById("title"),
  subtitle: document.getElementById("subtitle"),
  alert: document.getElementById("alert"),
  player: document.getElementById("player"),
  video: document.getElementById("video"),
  clock: document.getElementById("clock"),
  play: document.getElementById("play"),
  seek: document.getElementById("seek"),
  seekMarks: document.getElementById("seek-marks"),
  subtitles: document.getElementById("subtitles"),
  position: document.getElementById("position"),
  speed: document.getElementById("speed"),
  loop: document.getElementById("loop"),
  chapters: document.getElementById("chapters"),
  chaptersEmpty: document.getElementById("chapters-empty"),
  chat: document.getElementById("chat"),
  chatEmpty: document.getElementById("chat-empty"),
  others: document.getElementById("others"),
  othersEmpty: document.getElementById("others-empty"),
  timeline: document.getElementById("timeline"),
  timelineEmpty: document.getElementById("timeline-empty"),
  filters: document.querySelectorAll('input[name="timeline-filter"]'),
  download: document.getElementById("download"),
  exportTimeline: document.getElementById("export-timeline"),
  exportChapters: document.getElementById("export-chapters"),
  exportChat: document.getElementById("export-chat"),
};

const state = {
  recording: null,
  clock: [],
  chapters: [],
  chapterButtons: [],
  chat: [], // [{event, item}] in media order
  entries: [], // the timeline's [{event, kind, text, item, button}] in media order
  shownKinds: filterKinds("all"),
  currentEntry: -2,
  pickedEntry: -1, // the entry last clicked: of those at its moment, it is the one marked
  marksFor: null, // the duration the seek bar's marks were placed for
  shownChat: -1,
  currentChapter: -2,
  previousMs: null, // media time at the last frame, for the chapter loop
  seeking: false, // the seek slider is being dragged
  frame: null,
  editor: null, // BookmarkEditor: the edit controls of bookmark chapters (none without can_manage)
};

// The original time of day with seconds, in the viewer's time zone (24 h, like the chat's times).
const timeOfDay = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});

function recordingIdOfPage() {
  const match = location.pathname.match(/^\/recordings\/(\d+)\/?$/);
  return match ? Number(match[1]) : null;
}

function mediaMs() {
  return Math.round(page.video.currentTime * 1000);
}

function durationMs() {
  const fromFile = page.video.duration;
  if (Number.isFinite(fromFile) && fromFile > 0) return Math.round(fromFile * 1000);
  return state.recording?.duration_ms ?? 0;
}

function seekTo(ms) {
  const limit = durationMs();
  const target = Math.max(0, limit ? Math.min(ms, limit) : ms);
  state.previousMs = null; // a jump, not playing across a loop's end
  page.video.currentTime = target / 1000;
  draw();
}

function togglePlay() {
  if (page.video.paused || page.video.ended) {
    page.video.play().catch((err) => {
      // A play() interrupted by a pause or a new source is no failure.
      if (err?.name !== "AbortError") showMessage(page.alert, `The video could not be played: ${err.message}`);
    });
  } else {
    page.video.pause();
  }
}

// ---- drawing what is on screen ------------------------------------------------------------------------

function drawClock(ms) {
  const at = originalTime(state.clock, ms, state.recording?.started_at);
  if (Number.isNaN(at)) {
    page.clock.textContent = "--:--:--";
    page.clock.removeAttribute("datetime");
    return;
  }
  const text = timeOfDay.format(new Date(at));
  if (page.clock.textContent !== text) {
    page.clock.textContent = text;
    page.clock.dateTime = new Date(Math.floor(at / 1000) * 1000).toISOString();
  }
}

function drawSeek(ms) {
  const total = durationMs();
  if (Number(page.seek.max) !== total) page.seek.max = String(total);
  if (!state.seeking) page.seek.value = String(ms);
  const spoken = `${spokenMediaTime(ms)} of ${spokenMediaTime(total)}`;
  if (page.seek.getAttribute("aria-valuetext") !== spoken) page.seek.setAttribute("aria-valuetext", spoken);
  const shown = `${formatMediaTime(ms)} / ${formatMediaTime(total)}`;
  if (page.position.textContent !== shown) page.position.textContent = shown;
}

/** The chat lines whose moment has played are shown; going back hides the later ones again. */
function drawChat(ms) {
  const count = playedCount(
    state.chat.map((line) => line.event),
    ms,
  );
  if (count === state.shownChat) return;
  state.chat.forEach((line, index) => {
    line.item.hidden = index >= count;
  });
  const grew = count > state.shownChat;
  state.shownChat = count;
  page.chatEmpty.hidden = count > 0;
  // The newest line stays in view, as in the live chat.
  if (grew) page.chat.scrollTop = page.chat.scrollHeight;
}

function drawChapter(ms) {
  const index = chapterAt(state.chapters, ms);
  if (index === state.currentChapter) return;
  state.currentChapter = index;
  state.chapterButtons.forEach((button, i) => {
    if (i === index) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  });
}

function entryShown(entry) {
  return state.shownKinds.includes(entry.kind);
}

/** The entry playing is marked (aria-current) and, while playing, kept in view inside the list. */
function drawTimeline(ms, force = false) {
  const index = currentEntry(state.entries, ms, entryShown, state.pickedEntry);
  if (index === state.currentEntry && !force) return;
  state.currentEntry = index;
  state.entries.forEach((entry, i) => {
    if (i === index) entry.button.setAttribute("aria-current", "true");
    else entry.button.removeAttribute("aria-current");
  });
  if (index >= 0 && !page.video.paused) keepInView(page.timeline, state.entries[index].item);
}

/** Scrolls `list` (never the page) so that `item` is within it. */
function keepInView(list, item) {
  const box = list.getBoundingClientRect();
  const line = item.getBoundingClientRect();
  if (line.top >= box.top && line.bottom <= box.bottom) return;
  list.scrollTop += line.top - box.top - list.clientHeight / 3;
}

/** The chapters' marks under the seek bar, placed once the file's duration is known. */
function drawMarks() {
  const total = durationMs();
  if (!total || state.marksFor === total) return;
  state.marksFor = total;
  const marks = state.chapters
    .filter((chapter) => chapter.start_ms > 0)
    .map((chapter) => {
      const mark = el("span", {
        className: `seek-mark seek-mark-${chapter.kind ?? "bookmark"}`,
        title: `${formatMediaTime(chapter.start_ms)} ${chapter.title}`,
      });
      mark.style.setProperty("--at", String(markPercent(chapter.start_ms, total) / 100));
      // A pointer's shortcut: the chapters' buttons are the keyboard's (the marks are hidden from readers).
      mark.addEventListener("click", () => seekTo(chapter.start_ms));
      return mark;
    });
  page.seekMarks.replaceChildren(...marks);
}

function drawPlayState() {
  const playing = !page.video.paused && !page.video.ended;
  const text = playing ? "Pause" : "Play";
  if (page.play.textContent !== text) page.play.textContent = text;
}

function draw() {
  const ms = mediaMs();
  drawClock(ms);
  drawSeek(ms);
  drawChat(ms);
  drawChapter(ms);
  drawTimeline(ms);
  drawMarks();
  drawPlayState();
}

/** The looped chapter, or null when the whole recording (or nothing) loops. */
function loopedChapter() {
  const value = page.loop.value;
  if (!value.startsWith("chapter-")) return null;
  return state.chapters[Number(value.slice("chapter-".length))] ?? null;
}

/** Every frame while playing: a chapter loop jumps back at its end, and the screen follows the video. */
function tick() {
  state.frame = null;
  const ms = mediaMs();
  const jump = loopJump(loopedChapter(), state.previousMs, ms);
  if (jump !== null) {
    seekTo(jump);
  } else {
    state.previousMs = ms;
    draw();
  }
  if (!page.video.paused) state.frame = requestAnimationFrame(tick);
}

function startTicking() {
  if (state.frame === null) state.frame = requestAnimationFrame(tick);
}

// ---- building the page --------------------------------------------------------------------------------

function showRecording(recording) {
  state.recording = recording;
  const when = formatDateTime(recording.started_at);
  page.title.textContent = recording.name;
  page.video.setAttribute("aria-label", `${recording.name}${when ? `, ${when}` : ""}`);
  document.title = `Aula — ${recording.name}${when ? ` (${when})` : ""}`;
  const parts = [];
  if (when) parts.push(el("time", { dateTime: recording.started_at }, when));
  if (recording.classroom?.name) parts.push(recording.classroom.name);
  if (recording.duration_ms) parts.push(formatMediaTime(recording.duration_ms));
  page.subtitle.replaceChildren(...parts.flatMap((part, i) => (i ? [" · ", part] : [part])));
  page.subtitle.hidden = parts.length === 0;
}

function buildSpeeds() {
  page.speed.replaceChildren(
    ...SPEEDS.map((speed) => el("option", { value: String(speed), selected: speed === 1 }, `${speed}×`)),
  );
}

/** The chapters' buttons (with a bookmark's Edit and Delete for those who manage it) and the loop's options;
 * called again after a bookmark changed, keeping a looped chapter looped when it is still there. */
function buildChapters(chapters) {
  const looped = loopedChapter();
  state.chapters = chapters;
  state.currentChapter = -2;
  state.marksFor = null;
  state.chapterButtons = chapters.map((chapter, index) => {
    const start = formatMediaTime(chapter.start_ms);
    const button = el(
      "button",
      { type: "button", className: `chapter chapter-${chapter.kind ?? "start"}` },
      el("time", { className: "chapter-start", dateTime: `PT${Math.floor(chapter.start_ms / 1000)}S` }, start),
      el("span", { className: "chapter-title" }, chapter.title),
    );
    button.addEventListener("click", () => {
      // Looping one chapter and picking another: that one loops now.
      if (loopedChapter()) page.loop.value = `chapter-${index}`;
      seekTo(chapter.start_ms);
    });
    return button;
  });
  const items = state.chapterButtons.map((button, index) => {
    const item = el("li", {}, el("div", { className: "chapter-row" }, button));
    state.editor?.decorate(item, chapters[index], index);
    return item;
  });
  page.chapters.replaceChildren(...items);
  page.chaptersEmpty.hidden = chapters.length > 0;
  for (const option of [...page.loop.options]) {
    if (option.value.startsWith("chapter-")) option.remove();
  }
  page.loop.append(
    ...chapters.map((chapter, index) =>
      el("option", { value: `chapter-${index}` }, `Chapter ${index + 1}: ${chapter.title}`),
    ),
  );
  if (looped) {
    const again = chapters.findIndex((c) => c.start_ms === looped.start_ms && c.title === looped.title);
    page.loop.value = again >= 0 ? `chapter-${again}` : "off";
  }
  state.editor?.showTools(chapters);
}

function buildChat(events) {
  state.chat = chatLines(events).map((event) => {
    const at = originalTime(state.clock, event.media_ms, state.recording?.started_at);
    const time = Number.isNaN(at)
      ? el("span", { className: "chat-time" }, formatMediaTime(event.media_ms))
      : el("time", { className: "chat-time", dateTime: new Date(at).toISOString() }, timeOfDay.format(new Date(at)));
    const item = el(
      "li",
      { className: "chat-line", "data-media-ms": event.media_ms },
      time,
      " ",
      el("span", { className: "chat-author" }, `${event.display_name ?? "Someone"}:`),
      " ",
      el("span", { className: "chat-text" }, event.text ?? ""),
    );
    item.hidden = true;
    return { event, item };
  });
  page.chat.replaceChildren(...state.chat.map((line) => line.item));
  state.shownChat = -1;
}

/** The class's timeline in words, each entry a button to its moment; the filter shows one kind or all. */
function buildTimeline(events) {
  state.pickedEntry = -1;
  state.currentEntry = -2;
  state.entries = timelineEntries(events, state.recording?.duration_ms ?? null).map((entry, index) => {
    const at = Date.parse(entry.event.at ?? "");
    const moment = Number.isNaN(at)
      ? originalTime(state.clock, entry.event.media_ms, state.recording?.started_at)
      : at;
    const time = Number.isNaN(moment)
      ? el("span", { className: "timeline-time" }, formatMediaTime(entry.event.media_ms))
      : el(
          "time",
          { className: "timeline-time", dateTime: new Date(moment).toISOString() },
          timeOfDay.format(new Date(moment)),
        );
    const button = el(
      "button",
      { type: "button", className: `timeline-entry timeline-${entry.kind}` },
      time,
      " ",
      el("span", { className: "timeline-text" }, entry.text),
    );
    button.addEventListener("click", () => {
      state.pickedEntry = index;
      seekTo(entry.event.media_ms);
    });
    const item = el("li", { "data-kind": entry.kind, "data-media-ms": entry.event.media_ms }, button);
    return { ...entry, item, button };
  });
  page.timeline.replaceChildren(...state.entries.map((entry) => entry.item));
  showKinds(checkedFilter());
}

function checkedFilter() {
  return [...page.filters].find((input) => input.checked)?.value ?? "all";
}

function showKinds(value) {
  state.shownKinds = filterKinds(value);
  let shown = 0;
  for (const entry of state.entries) {
    entry.item.hidden = !entryShown(entry);
    if (!entry.item.hidden) shown += 1;
  }
  page.timelineEmpty.hidden = shown > 0;
  drawTimeline(mediaMs(), true);
}

/** The downloads, and the chapters and chat as the video's own tracks (the chat off until asked for). */
function buildFiles(id) {
  const base = `/api/recordings/${encodeURIComponent(id)}`;
  page.download.href = recordingMediaUrl(id, { download: true });
  page.exportTimeline.href = `${base}/timeline.txt`;
  page.exportChapters.href = `${base}/chapters.vtt`;
  page.exportChat.href = `${base}/chat.vtt`;
  const chapters = el("track", { kind: "chapters", label: "Chapters", srclang: "en", src: `${base}/chapters.vtt` });
  const chat = el("track", { kind: "subtitles", label: "Chat", srclang: "en", src: `${base}/chat.vtt` });
  chat.id = "chat-track";
  page.video.append(chapters, chat);
}

function chatTrack() {
  return [...page.video.textTracks].find((track) => track.kind === "subtitles" && track.label === "Chat");
}

function showSubtitles() {
  const track = chatTrack();
  if (track) track.mode = page.subtitles.checked ? "showing" : "disabled";
}

function buildOthers(recordings) {
  const listed = sameClassroom(recordings, state.recording);
  const items = listed.map((recording) => {
    const when = formatDateTime(recording.started_at);
    const text = when ? `${recording.name} — ${when}` : recording.name;
    if (recording.id === state.recording.id) {
      return el("li", {}, el("span", { className: "current-recording", "aria-current": "page" }, `${text} (playing)`));
    }
    return el("li", {}, el("a", { href: `/recordings/${recording.id}` }, text));
  });
  page.others.replaceChildren(...items);
  page.othersEmpty.hidden = listed.some((recording) => recording.id !== state.recording.id);
}

/** Optional parts (timeline, chapters, the list) that fail leave the video playable and say what is missing. */
async function optional(what, load) {
  try {
    return await load();
  } catch (err) {
    if (redirectIfUnauthorized(err)) return null;
    const missing = page.alert.hidden ? "" : `${page.alert.textContent} `;
    showMessage(page.alert, `${missing}The ${what} could not be loaded: ${err.message}`);
    return null;
  }
}

function notFoundText(err) {
  if (err instanceof ApiError && err.status === 404) {
    return "This recording does not exist, or you are not allowed to watch it.";
  }
  if (err instanceof ApiError && err.status === 403) return "You are not allowed to watch this recording.";
  return `The recording could not be loaded: ${err.message}`;
}

function wireControls() {
  const video = page.video;
  page.play.addEventListener("click", togglePlay);
  video.addEventListener("click", togglePlay);
  video.addEventListener("play", () => {
    drawPlayState();
    startTicking();
  });
  video.addEventListener("pause", drawPlayState);
  video.addEventListener("seeked", draw);
  video.addEventListener("timeupdate", () => {
    if (video.paused) draw();
  });
  video.addEventListener("loadedmetadata", draw);
  video.addEventListener("durationchange", draw);
  video.addEventListener("ended", () => {
    const chapter = loopedChapter();
    if (chapter) {
      // The last chapter ends with the file.
      seekTo(chapter.start_ms);
      togglePlay();
    } else {
      draw();
    }
  });
  video.addEventListener("error", () => {
    showMessage(page.alert, "The video could not be played: the browser could not read the file.");
  });
  page.seek.addEventListener("input", () => {
    state.seeking = true;
    seekTo(Number(page.seek.value));
  });
  page.seek.addEventListener("change", () => {
    state.seeking = false;
    seekTo(Number(page.seek.value));
  });
  for (const input of page.filters) input.addEventListener("change", () => showKinds(checkedFilter()));
  page.subtitles.addEventListener("change", showSubtitles);
  page.speed.addEventListener("change", () => {
    video.playbackRate = Number(page.speed.value);
  });
  page.loop.addEventListener("change", () => {
    video.loop = page.loop.value === "all";
    state.previousMs = null;
    const chapter = loopedChapter();
    // Looping a chapter starts it, unless it is already playing.
    if (chapter && (mediaMs() < chapter.start_ms || mediaMs() >= chapter.end_ms)) seekTo(chapter.start_ms);
  });
  document.addEventListener("keydown", keyboard);
}

/** Space and K play or pause, the arrows seek, wherever the keyboard is, except where a key has its own use. */
function keyboard(event) {
  if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
  const target = event.target;
  const tag = target?.tagName;
  if (tag === "SELECT" || tag === "TEXTAREA" || target?.isContentEditable) return;
  if (tag === "INPUT" && target.type !== "range") return;
  if (page.player.hidden) return;
  const key = event.key;
  if (key === "k" || key === "K" || (key === " " && !["BUTTON", "A", "INPUT"].includes(tag))) {
    event.preventDefault();
    togglePlay();
  } else if ((key === "ArrowLeft" || key === "ArrowRight") && tag !== "INPUT") {
    event.preventDefault();
    seekTo(mediaMs() + (key === "ArrowLeft" ? -SEEK_STEP_MS : SEEK_STEP_MS));
  }
}

/** After a bookmark was edited or deleted: the chapters, their marks and the timeline as the server has
 * them now. Throws when they cannot be read (the editor says so). */
async function reloadLists(id) {
  const base = `/api/recordings/${encodeURIComponent(id)}`;
  const [timeline, chapters, bookmarks] = await Promise.all([
    request("GET", `${base}/timeline`),
    request("GET", `${base}/chapters`),
    request("GET", `${base}/bookmarks`),
  ]);
  state.clock = timeline?.clock ?? [];
  state.editor.setBookmarks(bookmarks?.bookmarks ?? []);
  buildChapters(chapters?.chapters ?? []);
  buildTimeline(withCurrentBookmarks(timeline?.events ?? [], bookmarks?.bookmarks ?? []));
  draw();
}

// ---- start --------------------------------------------------------------------------------------------

async function main() {
  const user = await initPage();
  if (!user) return;
  const id = recordingIdOfPage();
  let recording;
  try {
    if (id === null) throw new ApiError(404, "not_found", "No such recording.");
    recording = await getRecording(id);
  } catch (err) {
    if (redirectIfUnauthorized(err)) return;
    page.title.textContent = "Recording not found";
    if (!(err instanceof ApiError && err.status === 404)) page.title.textContent = "Recording unavailable";
    showMessage(page.alert, notFoundText(err));
    return;
  }
  showRecording(recording);
  if (recording.state !== "ready") {
    const why =
      recording.state === "failed"
        ? "This recording failed: there is nothing to play."
        : "This recording is still being made: it can be played once it is ready.";
    showMessage(page.alert, why);
    return;
  }
  buildSpeeds();
  wireControls();
  const base = `/api/recordings/${encodeURIComponent(id)}`;
  const [timeline, chapters, recordings, bookmarks] = await Promise.all([
    optional("chat and original time", () => request("GET", `${base}/timeline`)),
    optional("chapters", () => request("GET", `${base}/chapters`)),
    optional("list of this classroom's recordings", listRecordings),
    optional("bookmarks", () => request("GET", `${base}/bookmarks`)),
  ]);
  state.clock = timeline?.clock ?? [];
  state.editor = new BookmarkEditor({ recording, currentMs: mediaMs, onChanged: () => reloadLists(id) });
  state.editor.setBookmarks(bookmarks?.bookmarks ?? null);
  buildChapters(chapters?.chapters ?? []);
  buildChat(timeline?.events ?? []);
  // The bookmark events as their bookmarks are now: edited or deleted since the class, perhaps.
  buildTimeline(withCurrentBookmarks(timeline?.events ?? [], bookmarks?.bookmarks ?? null));
  buildOthers(recordings ?? [recording]);
  buildFiles(id);
  page.player.hidden = false;
  page.video.src = recordingMediaUrl(id);
  showSubtitles();
  draw();
}

main();
