// The classroom's video: one tile per participant (camera, microphone, who speaks) and the screen shares,
// shown above the tiles and larger. The page says what each tile shows; this module owns the elements.
import { CAMERA_ICONS, CAMERA_LABELS, MIC_ICONS, MIC_LABELS, setIcon } from "/static/js/media_state.js";
import { el } from "/static/js/nav.js";

export class TileGrid {
  /**
   * @param elements.tiles the container of the camera tiles
   * @param elements.screens the container of the screen shares
   * @param options.onSoundBlocked () => void: the browser refused to play sound before a user gesture
   */
  constructor({ tiles, screens }, { onSoundBlocked }) {
    this.tilesElement = tiles;
    this.screensElement = screens;
    this._onSoundBlocked = onSoundBlocked;
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
    }
    tile.figure.classList.toggle("self", self);
    tile.caption.textContent = self ? `${participant.display_name} (you)` : participant.display_name;
    tile.placeholder.textContent = initials(participant.display_name);

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
    this._renderScreen(userId, participant.display_name, screen);
  }

  remove(userId) {
    this.tiles.get(userId)?.figure.remove();
    this.tiles.delete(userId);
    this._renderScreen(userId, "", null);
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
    const figure = el(
      "figure",
      { className: "tile", "data-user-id": userId },
      placeholder,
      video,
      el("span", { className: "tile-indicators" }, mic, camera),
      caption,
    );
    if (audio) figure.append(audio);
    return { figure, video, audio, placeholder, mic, camera, caption };
  }

  /** Shows `track` as the participant's screen share above the tiles, or removes it (null). */
  _renderScreen(userId, name, track) {
    let screen = this.screens.get(userId);
    if (!track) {
      if (screen) {
        screen.video.srcObject = null;
        screen.figure.remove();
        this.screens.delete(userId);
      }
      this.screensElement.hidden = this.screens.size === 0;
      return;
    }
    if (!screen) {
      const video = el("video", { autoplay: true, playsInline: true, muted: true });
      const caption = el("figcaption");
      const figure = el("figure", { className: "tile screen", "data-user-id": userId }, video, caption);
      screen = { figure, video, caption };
      this.screens.set(userId, screen);
      this.screensElement.append(screen.figure);
    }
    screen.caption.textContent = userId === this.selfId ? "Your screen" : `${name}'s screen`;
    this._setTrack(screen.video, track);
    this.screensElement.hidden = false;
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

function initials(name) {
  return (name ?? "")
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((word) => word[0].toUpperCase())
    .join("");
}
