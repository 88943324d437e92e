// A searchable picker of people (students or moderators of a classroom): an input with role="combobox"
// whose listbox shows who the server's directory finds as you type, and the chosen people as a list, each
// with a "Remove <name>" button. Keyboard: arrows move in the list, Enter chooses, Escape closes.
import { searchDirectory } from "/static/js/api.js";
import { el } from "/static/js/nav.js";

const SEARCH_DELAY_MS = 150;
let pickers = 0;

export class UserPicker {
  /**
   * Renders into `root` (an element with data-field="<body field>"): `label` names the input ("Students"),
   * `roles` narrows the directory search (["student"]), `onError(err)` hears about failed searches.
   */
  constructor(root, { label, roles = [], hint = "", onError = () => {} }) {
    const id = `picker-${++pickers}`;
    this.root = root;
    this.roles = roles;
    this.onError = onError;
    this.chosen = new Map(); // id -> {id, username, display_name}
    this.found = [];
    this.active = -1;
    this.searches = 0;
    this.timer = null;
    root.classList.add("user-picker");
    root.dataset.fieldWrap = "";

    const hintId = `${id}-hint`;
    this.input = el("input", {
      id: `${id}-input`,
      type: "text",
      role: "combobox",
      autocomplete: "off",
      autocapitalize: "none",
      spellcheck: false,
      "aria-autocomplete": "list",
      "aria-expanded": "false",
      "aria-controls": `${id}-list`,
      "aria-describedby": hintId,
    });
    this.listbox = el("ul", { id: `${id}-list`, role: "listbox", "aria-label": `${label} found`, className: "picker-list" });
    this.listbox.hidden = true;
    this.chips = el("ul", { className: "picker-chosen", "aria-label": `Chosen ${label.toLowerCase()}` });
    this.empty = el("p", { className: "hint picker-none" }, `No ${label.toLowerCase()} chosen.`);
    root.replaceChildren(
      el("label", { htmlFor: this.input.id }, label),
      el("p", { id: hintId, className: "hint" }, hint || "Type part of a name, then choose from the list."),
      el("div", { className: "picker-combo" }, this.input, this.listbox),
      this.chips,
      this.empty,
    );

    this.input.addEventListener("input", () => this.scheduleSearch());
    this.input.addEventListener("keydown", (event) => this.onKey(event));
    this.input.addEventListener("blur", () => setTimeout(() => this.close(), 150));
    // Choosing with the mouse must not blur the input first (the list would close under the pointer).
    this.listbox.addEventListener("mousedown", (event) => event.preventDefault());
    this.listbox.addEventListener("click", (event) => {
      const option = event.target.closest('[role="option"]');
      if (option) this.choose(this.found[Number(option.dataset.index)]);
    });
    this.renderChosen();
  }

  /** The chosen people (in the order chosen). */
  get users() {
    return [...this.chosen.values()];
  }

  usernames() {
    return this.users.map((user) => user.username);
  }

  /** Replaces the chosen people (e.g. with a classroom's students). */
  set(users) {
    this.chosen = new Map(users.map((user) => [user.id, user]));
    this.renderChosen();
  }

  clear() {
    this.set([]);
    this.input.value = "";
    this.close();
  }

  scheduleSearch() {
    clearTimeout(this.timer);
    const query = this.input.value.trim();
    if (!query) {
      this.close();
      return;
    }
    this.timer = setTimeout(() => this.search(query), SEARCH_DELAY_MS);
  }

  async search(query) {
    const search = ++this.searches;
    let users;
    try {
      users = await searchDirectory(query, this.roles);
    } catch (err) {
      this.onError(err);
      return;
    }
    // An older answer arriving late must not replace a newer one.
    if (search !== this.searches || this.input.value.trim() !== query) return;
    this.found = users.filter((user) => !this.chosen.has(user.id));
    this.renderFound(users.filter((user) => this.chosen.has(user.id)));
  }

  /** Shows who can be chosen, then (not choosable) those found who are already chosen. */
  renderFound(alreadyChosen = []) {
    this.active = this.found.length ? 0 : -1;
    const options = this.found.map((user, index) =>
      el(
        "li",
        { id: `${this.listbox.id}-${index}`, role: "option", "aria-selected": "false", "data-index": index },
        el("span", { className: "picker-name" }, user.display_name),
        " ",
        el("span", { className: "picker-username" }, `(${user.username})`),
      ),
    );
    for (const user of alreadyChosen) {
      const text = `${user.display_name} is already chosen`;
      options.push(el("li", { className: "picker-already", role: "option", "aria-disabled": "true" }, text));
    }
    if (options.length === 0) {
      options.push(el("li", { className: "picker-nobody", role: "option", "aria-disabled": "true" }, "Nobody found"));
    }
    this.listbox.replaceChildren(...options);
    this.listbox.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
    this.highlight();
  }

  highlight() {
    for (const option of this.listbox.querySelectorAll("[data-index]")) {
      const selected = Number(option.dataset.index) === this.active;
      option.setAttribute("aria-selected", String(selected));
      option.classList.toggle("active", selected);
      if (selected) option.scrollIntoView({ block: "nearest" });
    }
    if (this.active >= 0) this.input.setAttribute("aria-activedescendant", `${this.listbox.id}-${this.active}`);
    else this.input.removeAttribute("aria-activedescendant");
  }

  close() {
    this.listbox.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
    this.active = -1;
  }

  onKey(event) {
    const open = !this.listbox.hidden;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!open) {
        this.scheduleSearch();
        return;
      }
      if (this.found.length === 0) return;
      const step = event.key === "ArrowDown" ? 1 : -1;
      this.active = (this.active + step + this.found.length) % this.found.length;
      this.highlight();
    } else if (event.key === "Enter") {
      // Enter in the picker chooses; it never submits the form around it.
      event.preventDefault();
      if (open && this.active >= 0) this.choose(this.found[this.active]);
    } else if (event.key === "Escape" && open) {
      event.preventDefault();
      this.close();
    }
  }

  choose(user) {
    if (!user) return;
    this.chosen.set(user.id, user);
    this.input.value = "";
    this.close();
    this.renderChosen();
    this.input.focus();
  }

  remove(user) {
    this.chosen.delete(user.id);
    this.renderChosen();
    this.input.focus();
  }

  renderChosen() {
    const items = this.users.map((user) => {
      const remove = el("button", { type: "button", className: "secondary small" }, "Remove");
      remove.setAttribute("aria-label", `Remove ${user.display_name}`);
      remove.addEventListener("click", () => this.remove(user));
      return el("li", { "data-user-id": user.id }, el("span", {}, user.display_name), " ", remove);
    });
    this.chips.replaceChildren(...items);
    this.chips.hidden = items.length === 0;
    this.empty.hidden = items.length !== 0;
  }
}
