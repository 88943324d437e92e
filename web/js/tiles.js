// The classroom's video: one tile per participant (camera, microphone, who speaks, a raised hand, a media
// connection problem) and the screen shares. The page says what each tile shows; this module owns the
// elements, and the stage (web/js/stage.js) decides where each sits (large or in the strip, or the grid).
import { CAMERA_ICONS, CAMERA_LABELS, MIC_ICONS, MIC_LABELS, setIcon } from "/static/js/media_state.js";
import { el } from "/static/js/nav.js";

export class TileGrid {
  /**
   * @param elements.tiles the container of the camera tiles
   * @param elements.screens the container of the screen shares
   * @param options.onSoundBlocked () => void: the browser refused to play sound before a user gesture
   * @param options.onPin (key) => void: the tile's (or screen's) Pin button was pressed; key "user:<id>"
   *   or "screen:<id>"
   * @param options.onFullScreen (figure) => void: the tile's Full screen button was pressed
   * @param options.onChange () => void: a tile or screen share came or went
   */
  constructor({ tiles, screens }, { onSoundBlocked, onPin = () => {}, onFullScreen = () => {}, onChange = () => {} }) {
    this.tilesElement = tiles;
    this.screensElement = screens;
    this._onSoundBlocked = onSoundBlocked;
    this._onPin = onPin;
    this._onFullScreen = onFullScreen;
    this._onChange = onChange;
    this._order = 0;
    this.selfId = null;
    this.tiles = new Map(); // user_id -> {figure, video, audio, placeholder, mic, camera, caption}
    this.screens = new Map(); // user_id -> {figure, video, caption}
  }

  /** Removes every tile and screen share; `selfId` is this page's own user. */
  reset(selfId) {
    this.selfId = selfId;
    for (const userId of [...this.tiles.keys()]) this.remove(userId);
    for (const userId of [...this.screens.keys()]) this._renderScreen(userId, "", null);
  }

  /**
   * Brings one participant's tile and screen share up to date.
   * @param view.mic, view.camera "on", "muted" or "off"
   * @param view.tracks {camera, microphone}: the MediaStreamTracks to play (either may be missing)
   * @param view.screen the screen share's track while they share, else null
   * @param view.speaking whether they are the active speaker
   * Also shown from the participant: a raised hand (`hand_raised`) and a connection problem
   * (`media_health` "failed" or "no_media").
   */
  render(participant, { mic, camera, tracks, screen, speaking }) {
    // The recorder robot sends no media: it is listed, never shown as a tile.
    if (participant.robot) return;
    const userId = participant.user_id;
    const self = userId === this.selfId;
    let tile = this.tiles.get(userId);
    if (!tile) {
      tile = this._createTile(userId, self);
      this.tiles.set(userId, tile);
      this.tilesElement.append(tile.figure);
      this._onChange();
    }
    tile.figure.classList.toggle("self", self);
    const name = self ? `${participant.display_name} (you)` : participant.display_name;
    tile.caption.textContent = name;
    tile.caption.title = name; // the full name, where a small tile cuts it short
    tile.placeholder.textContent = initials(participant.display_name);
    setActionNames(tile, name);

    setIcon(tile.mic, mic === "muted" ? MIC_LABELS.muted : MIC_LABELS.off, MIC_ICONS[mic], mic);
    setIcon(tile.camera, camera === "muted" ? CAMERA_LABELS.muted : CAMERA_LABELS.off, CAMERA_ICONS[camera], camera);
    tile.mic.hidden = mic === "on";
    tile.camera.hidden = camera === "on";

    this._setTrack(tile.video, tracks.camera);
    tile.video.hidden = !tracks.camera || camera !== "on";
    tile.placeholder.hidden = !tile.video.hidden;
    if (tile.audio) this._setTrack(tile.audio, tracks.microphone);

    tile.figure.classList.toggle("speaking", speaking);
    tile.figure.dataset.speaking = String(speaking);
    tile.speaking.hidden = !speaking;
    tile.hand.hidden = !participant.hand_raised;
    tile.problem.hidden = !CONNECTION_PROBLEMS.includes(participant.media_health);
    this._renderScreen(userId, participant.display_name, screen);
  }

  remove(userId) {
    const had = this.tiles.has(userId);
    this.tiles.get(userId)?.figure.remove();
    this.tiles.delete(userId);
    this._renderScreen(userId, "", null);
    if (had) this._onChange();
  }

  /** Marks which tile or screen (key "user:<id>" / "screen:<id>", or null) is pinned: its Pin button is pressed. */
  setPinned(key) {
    for (const [userId, tile] of this.tiles) setPressed(tile, key === `user:${userId}`);
    for (const [userId, screen] of this.screens) setPressed(screen, key === `screen:${userId}`);
  }

  /** Plays again what the browser held back (after the user pressed "Turn on sound"). */
  playAll() {
    for (const { video, audio } of this.tiles.values()) {
      for (const element of [video, audio]) if (element?.srcObject) this._play(element);
    }
    for (const { video } of this.screens.values()) if (video.srcObject) this._play(video);
  }

  _createTile(userId, self) {
    const video = el("video", { autoplay: true, playsInline: true, muted: true, hidden: true });
    // The camera's video element stays muted: the microphone plays through its own <audio>, so someone
    // with a microphone and no camera is heard too. Our own tile has no <audio>: no echo of ourselves.
    const audio = self ? null : el("audio", { autoplay: true });
    const placeholder = el("span", { className: "tile-placeholder", "aria-hidden": "true" });
    const mic = el("img", { className: "tile-indicator", width: 18, height: 18, hidden: true });
    const camera = el("img", { className: "tile-indicator", width: 18, height: 18, hidden: true });
    const caption = el("figcaption");
    const speaking = badge("badge-speaking", "icon-speaking", "Speaking");
    const hand = badge("badge-hand", "icon-hand", "Hand raised");
    const problem = badge("badge-problem", "icon-warning", "Connection problem");
    const { actions, pin, fullScreen } = this._createActions(`user:${userId}`);
    const figure = el(
      "figure",
      { className: "tile", "data-user-id": userId, "data-key": `user:${userId}`, "data-order": this._order++ },
      placeholder,
      video,
      el("span", { className: "tile-badges" }, speaking, hand, problem),
      el("span", { className: "tile-indicators" }, mic, camera),
      actions,
      caption,
    );
    if (audio) figure.append(audio);
    return { figure, video, audio, placeholder, mic, camera, caption, speaking, hand, problem, pin, fullScreen };
  }

  _createActions(key) {
    const pin = el("button", { type: "button", className: "tile-action", "aria-pressed": "false" });
    pin.append(el("span", { className: "icon icon-pin", "aria-hidden": "true" }));
    const fullScreen = el("button", { type: "button", className: "tile-action" });
    fullScreen.append(el("span", { className: "icon icon-fullscreen", "aria-hidden": "true" }));
    pin.addEventListener("click", () => this._onPin(key));
    fullScreen.addEventListener("click", () => this._onFullScreen(fullScreen.closest("figure")));
    return { actions: el("span", { className: "tile-actions" }, pin, fullScreen), pin, fullScreen };
  }

  /** Shows `track` as the participant's screen share (the stage puts it large), or removes it (null). */
  _renderScreen(userId, name, track) {
    let screen = this.screens.get(userId);
    if (!track) {
      if (screen) {
        screen.video.srcObject = null;
        screen.figure.remove();
        this.screens.delete(userId);
        this._onChange();
      }
      return;
    }
    if (!screen) {
      const video = el("video", { autoplay: true, playsInline: true, muted: true });
      const caption = el("figcaption");
      const { actions, pin, fullScreen } = this._createActions(`screen:${userId}`);
      const figure = el(
        "figure",
        { className: "tile screen", "data-user-id": userId, "data-key": `screen:${userId}`, "data-order": this._order++ },
        video,
        actions,
        caption,
      );
      screen = { figure, video, caption, pin, fullScreen };
      this.screens.set(userId, screen);
      this.screensElement.append(screen.figure);
      this._onChange();
    }
    screen.caption.textContent = userId === this.selfId ? "Your screen" : `${name}'s screen`;
    setActionNames(screen, screen.caption.textContent);
    this._setTrack(screen.video, track);
  }

  /** Plays `track` in a <video> or <audio> element (nothing if missing); leaves what already plays alone. */
  _setTrack(element, track) {
    const current = element.srcObject?.getTracks()[0] ?? null;
    if (current === (track ?? null)) return;
    element.srcObject = track ? new MediaStream([track]) : null;
    if (track) this._play(element);
  }

  _play(element) {
    element.play().catch((err) => {
      // Browsers may refuse to play sound before the user has interacted with the page.
      if (err.name === "NotAllowedError" && element instanceof HTMLAudioElement) this._onSoundBlocked();
    });
  }
}

/** A participant's media connection is in trouble: their tile says so to everyone. */
const CONNECTION_PROBLEMS = Object.freeze(["failed", "no_media"]);

/** A text badge on a tile (an icon and words, never colour alone); hidden until the page shows it. */
function badge(className, icon, text) {
  return el(
    "span",
    { className: `tile-badge ${className}`, hidden: true },
    el("span", { className: `icon ${icon}`, "aria-hidden": "true" }),
    // On small tiles only the icon shows; the words stay for screen readers (stage.css).
    el("span", { className: "tile-badge-text" }, text),
  );
}

function setActionNames(item, name) {
  const pinned = item.pin.getAttribute("aria-pressed") === "true";
  item.pin.setAttribute("aria-label", `${pinned ? "Unpin" : "Pin"} ${name}`);
  item.pin.title = item.pin.getAttribute("aria-label");
  item.fullScreen.setAttribute("aria-label", `Full screen ${name}`);
  item.fullScreen.title = item.fullScreen.getAttribute("aria-label");
  item.name = name;
}

function setPressed(item, pressed) {
  item.pin.setAttribute("aria-pressed", String(pressed));
  item.figure.classList.toggle("pinned", pressed);
  if (item.name) setActionNames(item, item.name);
}

function initials(name) {
  return (name ?? "")
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((word) => word[0].toUpperCase())
    .join("");
}
