// Where the classroom's tiles sit. Speaker view: one figure large (the pinned one, else the newest screen
// share, else the active speaker, else someone other than you) and the others in a strip below; grid view:
// every figure in one grid that fills the stage. Tiles and screen shares are made by web/js/tiles.js; this
// module only moves their figures between the stage's containers and sizes the grid.

export const LAYOUTS = Object.freeze(["speaker", "grid"]);

export class Stage {
  /**
   * @param elements.stage the stage (its data-layout says the layout)
   * @param elements.main where the large figure of the speaker view goes
   * @param elements.strip the strip of the speaker view, the grid of the grid view
   * @param elements.tiles, elements.screens the home containers of camera tiles and screen shares
   * @param options.onChange ({layout, pinned}) => void: the layout or the pin changed
   */
  constructor({ stage, main, strip, tiles, screens }, { onChange = () => {} } = {}) {
    this.elements = { stage, main, strip, tiles, screens };
    this._onChange = onChange;
    this.layout = "speaker";
    this.pinned = null; // "user:<id>" or "screen:<id>"
    this.speaker = null; // user id of the active speaker
    this.selfId = null;
    this.locked = null; // while a replay plays: true, or the key of its tile once it is there
    this._screenKeys = []; // screen shares in the order they appeared: the newest takes the stage
    this._lastSpeaker = null; // the last one who spoke stays large through silences
    this._resize = new ResizeObserver(() => this._sizeGrid());
    this._resize.observe(stage);
  }

  reset(selfId) {
    this.selfId = selfId;
    this.pinned = null;
    this.speaker = null;
    this._lastSpeaker = null;
    this._screenKeys = [];
    this.arrange();
  }

  /**
   * While a replay plays, everyone's stage shows it: its tile (`key`, "user:<id>"; true until it is there)
   * takes the speaker view's large place, and layout and pins cannot be changed. null unlocks.
   */
  lock(key) {
    this.locked = key;
    this.elements.stage.dataset.locked = String(key !== null);
    if (key !== null) {
      this.layout = "speaker";
      this.pinned = null;
    }
    this.arrange();
    this._onChange(this._state());
  }

  setLayout(layout) {
    if (!LAYOUTS.includes(layout)) throw new TypeError(`unknown layout: ${layout}`);
    if (this.locked !== null || this.layout === layout) return;
    this.layout = layout;
    this.arrange();
    this._onChange(this._state());
  }

  /** Pins `key` (pressing the pinned one again unpins it); pinning shows the speaker view. */
  togglePin(key) {
    if (this.locked !== null) return;
    this.pinned = this.pinned === key ? null : key;
    if (this.pinned) this.layout = "speaker";
    this.arrange();
    this._onChange(this._state());
  }

  setSpeaker(userId) {
    this.speaker = userId;
    if (userId !== null && userId !== this.selfId) this._lastSpeaker = userId;
    this.arrange();
  }

  /** Puts every figure where the layout wants it; call after tiles or screen shares come or go. */
  arrange() {
    const figures = this._figures();
    const keys = new Set(figures.map((figure) => figure.dataset.key));
    if (this.pinned && !keys.has(this.pinned)) {
      this.pinned = null;
      this._onChange(this._state());
    }
    const screens = figures.filter((figure) => figure.classList.contains("screen")).map((f) => f.dataset.key);
    const fresh = screens.filter((key) => !this._screenKeys.includes(key));
    this._screenKeys = [...this._screenKeys.filter((key) => screens.includes(key)), ...fresh];
    // A new screen share takes the stage: the grid gives way to the speaker view.
    if (fresh.length > 0 && this.layout === "grid" && this.locked === null) {
      this.layout = "speaker";
      this._onChange(this._state());
    }
    this.elements.stage.dataset.layout = this.layout;
    const main = this.layout === "speaker" ? this._mainFigure(figures) : null;
    for (const figure of figures) {
      if (figure === main) {
        if (figure.parentElement !== this.elements.main) this.elements.main.replaceChildren(figure);
      } else {
        this._sendHome(figure);
      }
    }
    if (!main) this.elements.main.replaceChildren();
    this._sizeGrid();
  }

  // ---- internals ----------------------------------------------------------------------------------

  _state() {
    return { layout: this.layout, pinned: this.pinned, locked: this.locked !== null };
  }

  _figures() {
    const { main, tiles, screens } = this.elements;
    return [main, tiles, screens].flatMap((container) => [...container.querySelectorAll(":scope > figure")]);
  }

  _mainFigure(figures) {
    const byKey = new Map(figures.map((figure) => [figure.dataset.key, figure]));
    const candidates = [
      typeof this.locked === "string" ? this.locked : null,
      this.pinned,
      this._screenKeys.at(-1),
      this.speaker !== null && this.speaker !== this.selfId ? `user:${this.speaker}` : null,
      this._lastSpeaker !== null ? `user:${this._lastSpeaker}` : null,
    ];
    for (const key of candidates) if (key && byKey.has(key)) return byKey.get(key);
    const others = figures.filter((figure) => !figure.classList.contains("self"));
    // Alone in the classroom: your own tile stays in the strip, so nothing looks like someone else.
    return others.sort((a, b) => Number(a.dataset.order) - Number(b.dataset.order))[0] ?? null;
  }

  /** Back to its own container, in the order the figures were made (moves keep playing: same task). */
  _sendHome(figure) {
    const home = figure.classList.contains("screen") ? this.elements.screens : this.elements.tiles;
    const order = Number(figure.dataset.order);
    const next = [...home.children].find((child) => child !== figure && Number(child.dataset.order) > order);
    if (figure.parentElement === home && figure.nextElementSibling === (next ?? null)) return;
    home.insertBefore(figure, next ?? null);
  }

  /** Grid view: as many columns as make the tiles largest for the stage's shape. */
  _sizeGrid() {
    const { strip } = this.elements;
    if (this.layout !== "grid") {
      strip.style.removeProperty("--cols");
      return;
    }
    const count = this._figures().length;
    const width = strip.clientWidth || 1;
    const height = strip.clientHeight || 1;
    let best = 1;
    let bestSize = 0;
    for (let cols = 1; cols <= Math.max(1, count); cols += 1) {
      const rows = Math.ceil(count / cols);
      const tileWidth = Math.min(width / cols, ((height / rows) * 4) / 3);
      if (tileWidth > bestSize) {
        bestSize = tileWidth;
        best = cols;
      }
    }
    strip.style.setProperty("--cols", String(best));
  }
}
